package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// FixedShapeTensorName is the name of Arrow's canonical fixed-shape tensor
// extension type, stored under the field metadata key ARROW:extension:name.
const FixedShapeTensorName = "arrow.fixed_shape_tensor"

// The type is registered once for the whole program so that every arrow-go
// ipc reader returns FixedShapeTensorArray columns. If some other package
// registered the name first, that registration is kept: this package's
// Reader re-parses any type with the canonical name, so it still works.
func init() {
	_ = arrow.RegisterExtensionType(&FixedShapeTensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: arrow.FixedSizeListOf(1, arrow.PrimitiveTypes.Uint8)},
		shape:         []int{1},
	})
}

// FixedShapeTensorType is the canonical Arrow extension type
// arrow.fixed_shape_tensor: every value is a tensor of the same shape,
// stored row-major in a FixedSizeList<value type>[product(shape)].
//
// Shape is the physical shape. The optional dim names label the physical
// dimensions; the optional permutation gives the logical order of the
// dimensions (logical dimension i is physical dimension permutation[i]).
type FixedShapeTensorType struct {
	arrow.ExtensionBase
	shape       []int
	dimNames    []string
	permutation []int
}

// tensorParams is the JSON form of the extension metadata.
type tensorParams struct {
	Shape       []int64  `json:"shape"`
	DimNames    []string `json:"dim_names,omitempty"`
	Permutation []int64  `json:"permutation,omitempty"`
}

// NewFixedShapeTensorType returns the tensor type with the given element
// type, physical shape and optional dim names and permutation (nil or empty
// for none). The element type must be a fixed-width integer or float type,
// and the shape must hold at least one element (arrow-go has no empty
// FixedSizeList).
func NewFixedShapeTensorType(value arrow.DataType, shape []int, dimNames []string, permutation []int) (*FixedShapeTensorType, error) {
	if value == nil || !(arrow.IsInteger(value.ID()) || arrow.IsFloating(value.ID())) {
		return nil, tensorErrorf("element type %v is not a fixed-width integer or float type", value)
	}
	size, err := tensorSize(shape)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		// arrow-go cannot build a FixedSizeList of size 0.
		return nil, tensorErrorf("shape %v holds no elements", shape)
	}
	if err := checkTensorLayout(len(shape), dimNames, permutation); err != nil {
		return nil, err
	}
	t := &FixedShapeTensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: arrow.FixedSizeListOf(int32(size), value)},
		shape:         slices.Clone(shape),
	}
	if len(dimNames) > 0 {
		t.dimNames = slices.Clone(dimNames)
	}
	if len(permutation) > 0 {
		t.permutation = slices.Clone(permutation)
	}
	return t, nil
}

// tensorSize returns the product of shape, refusing negative dimensions and
// products that do not fit a FixedSizeList size (int32).
func tensorSize(shape []int) (int, error) {
	for i, d := range shape {
		if d < 0 {
			return 0, tensorErrorf("shape %v: dimension %d is negative", shape, i)
		}
		if d == 0 {
			return 0, nil
		}
	}
	size := 1
	for _, d := range shape {
		if d > math.MaxInt32/size {
			return 0, tensorErrorf("shape %v: product exceeds %d elements", shape, math.MaxInt32)
		}
		size *= d
	}
	return size, nil
}

func checkTensorLayout(ndim int, dimNames []string, permutation []int) error {
	if len(dimNames) > 0 && len(dimNames) != ndim {
		return tensorErrorf("%d dim_names for %d dimensions", len(dimNames), ndim)
	}
	if len(permutation) == 0 {
		return nil
	}
	if len(permutation) != ndim {
		return tensorErrorf("permutation %v has %d entries for %d dimensions", permutation, len(permutation), ndim)
	}
	seen := make([]bool, ndim)
	for _, p := range permutation {
		if p < 0 || p >= ndim || seen[p] {
			return tensorErrorf("permutation %v is not a permutation of 0..%d", permutation, ndim-1)
		}
		seen[p] = true
	}
	return nil
}

// Shape returns a copy of the physical shape of each tensor.
func (t *FixedShapeTensorType) Shape() []int { return slices.Clone(t.shape) }

// DimNames returns a copy of the dimension names, or nil if there are none.
func (t *FixedShapeTensorType) DimNames() []string { return slices.Clone(t.dimNames) }

// Permutation returns a copy of the permutation, or nil if there is none.
func (t *FixedShapeTensorType) Permutation() []int { return slices.Clone(t.permutation) }

// ValueType returns the element type of the tensors.
func (t *FixedShapeTensorType) ValueType() arrow.DataType {
	return t.Storage.(*arrow.FixedSizeListType).Elem()
}

// Size returns the number of elements in one tensor, product(shape).
func (t *FixedShapeTensorType) Size() int {
	return int(t.Storage.(*arrow.FixedSizeListType).Len())
}

// ExtensionName returns "arrow.fixed_shape_tensor".
func (*FixedShapeTensorType) ExtensionName() string { return FixedShapeTensorName }

// ArrayType returns the type of FixedShapeTensorArray.
func (*FixedShapeTensorType) ArrayType() reflect.Type {
	return reflect.TypeOf(FixedShapeTensorArray{})
}

// Serialize returns the extension metadata, e.g.
// {"shape":[1,28,28],"dim_names":["C","H","W"]}.
func (t *FixedShapeTensorType) Serialize() string {
	p := tensorParams{Shape: make([]int64, len(t.shape)), DimNames: t.dimNames}
	for i, d := range t.shape {
		p.Shape[i] = int64(d)
	}
	for _, d := range t.permutation {
		p.Permutation = append(p.Permutation, int64(d))
	}
	b, err := json.Marshal(p)
	if err != nil {
		// Marshalling ints and strings cannot fail.
		panic(err)
	}
	return string(b)
}

// Deserialize returns the tensor type described by the extension metadata
// data over the given storage type. It checks that the storage is a
// FixedSizeList of an integer or float type, that the shape is
// non-negative and its product is the list size, and that the dim names
// and permutation match the number of dimensions.
func (*FixedShapeTensorType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	fsl, ok := storage.(*arrow.FixedSizeListType)
	if !ok {
		return nil, tensorErrorf("storage type is %v, want fixed_size_list", storage)
	}
	var raw struct {
		Shape       *[]int64 `json:"shape"`
		DimNames    []string `json:"dim_names"`
		Permutation []int64  `json:"permutation"`
	}
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return nil, tensorErrorf("metadata %.80q: %w", data, err)
	}
	if raw.Shape == nil {
		return nil, tensorErrorf("metadata %.80q has no shape", data)
	}
	shape, err := toInts("shape", *raw.Shape)
	if err != nil {
		return nil, err
	}
	perm, err := toInts("permutation", raw.Permutation)
	if err != nil {
		return nil, err
	}
	t, err := NewFixedShapeTensorType(fsl.Elem(), shape, raw.DimNames, perm)
	if err != nil {
		return nil, err
	}
	if t.Size() != int(fsl.Len()) {
		return nil, tensorErrorf("shape %v has %d elements but the storage list size is %d", shape, t.Size(), fsl.Len())
	}
	t.Storage = fsl // keep the writer's element field name and nullability
	return t, nil
}

func toInts(what string, v []int64) ([]int, error) {
	out := make([]int, len(v))
	for i, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, tensorErrorf("%s entry %d is out of range", what, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// ExtensionEquals reports whether other is a fixed-shape tensor type with
// the same storage, shape and dim names, and an equivalent permutation (an
// identity permutation equals none, as in Arrow C++).
func (t *FixedShapeTensorType) ExtensionEquals(other arrow.ExtensionType) bool {
	if other == nil || other.ExtensionName() != FixedShapeTensorName {
		return false
	}
	o, ok := other.(*FixedShapeTensorType)
	if !ok {
		parsed, err := t.Deserialize(other.StorageType(), other.Serialize())
		if err != nil {
			return false
		}
		o = parsed.(*FixedShapeTensorType)
	}
	return arrow.TypeEqual(t.Storage, o.Storage) &&
		slices.Equal(t.shape, o.shape) &&
		slices.Equal(t.dimNames, o.dimNames) &&
		slices.Equal(normalPermutation(t.permutation), normalPermutation(o.permutation))
}

// normalPermutation maps the identity permutation to nil.
func normalPermutation(p []int) []int {
	for i, v := range p {
		if v != i {
			return p
		}
	}
	return nil
}

// Fingerprint includes the parameters, which ExtensionBase leaves out.
func (t *FixedShapeTensorType) Fingerprint() string {
	return t.ExtensionBase.Fingerprint() + FixedShapeTensorName + t.Serialize()
}

// String returns a description such as
// extension<arrow.fixed_shape_tensor[value_type=uint8, shape=[1,28,28], dim_names=[C,H,W]]>.
func (t *FixedShapeTensorType) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "extension<%s[value_type=%v, shape=%s", FixedShapeTensorName, t.ValueType(), intList(t.shape))
	if len(t.permutation) > 0 {
		fmt.Fprintf(&b, ", permutation=%s", intList(t.permutation))
	}
	if len(t.dimNames) > 0 {
		fmt.Fprintf(&b, ", dim_names=[%s]", strings.Join(t.dimNames, ","))
	}
	b.WriteString("]>")
	return b.String()
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// FixedShapeTensorArray is an array of FixedShapeTensorType values. Its
// storage is an *array.FixedSizeList.
type FixedShapeTensorArray struct {
	array.ExtensionArrayBase
}

// TensorType returns the array's tensor type.
func (a *FixedShapeTensorArray) TensorType() *FixedShapeTensorType {
	return a.DataType().(*FixedShapeTensorType)
}

// Values returns the elements of the array's tensors, row-major and tensor
// after tensor (Len()*Size() of them, including those of null tensors).
// The caller must Release it.
func (a *FixedShapeTensorArray) Values() arrow.Array {
	fsl := a.Storage().(*array.FixedSizeList)
	size := int64(a.TensorType().Size())
	beg := int64(fsl.Offset()) * size
	return array.NewSlice(fsl.ListValues(), beg, beg+int64(fsl.Len())*size)
}

// ValueStr returns the i-th tensor's elements as text.
func (a *FixedShapeTensorArray) ValueStr(i int) string {
	if a.IsNull(i) {
		return array.NullValueStr
	}
	return a.Storage().ValueStr(i)
}

// String returns the array as text.
func (a *FixedShapeTensorArray) String() string {
	return a.Storage().String()
}

var errNotTensor = errors.New("not " + FixedShapeTensorName)

// tensorError is an error about a tensor type's parameters. The reader
// looks for it under arrow-go's wrapping of schema errors.
type tensorError struct{ err error }

func (e *tensorError) Error() string { return FixedShapeTensorName + ": " + e.err.Error() }
func (e *tensorError) Unwrap() error { return e.err }

func tensorErrorf(format string, args ...any) error {
	return &tensorError{fmt.Errorf(format, args...)}
}

// asTensorType returns t as a FixedShapeTensorType, re-parsing it if another
// package registered its own implementation of the canonical name.
func asTensorType(t arrow.DataType) (*FixedShapeTensorType, error) {
	ext, ok := t.(arrow.ExtensionType)
	if !ok || ext.ExtensionName() != FixedShapeTensorName {
		return nil, errNotTensor
	}
	if ft, ok := ext.(*FixedShapeTensorType); ok {
		return ft, nil
	}
	parsed, err := (*FixedShapeTensorType)(nil).Deserialize(ext.StorageType(), ext.Serialize())
	if err != nil {
		return nil, err
	}
	return parsed.(*FixedShapeTensorType), nil
}
