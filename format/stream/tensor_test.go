package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestNewFixedShapeTensorType(t *testing.T) {
	tests := []struct {
		name    string
		value   arrow.DataType
		shape   []int
		dims    []string
		perm    []int
		size    int
		wantErr string
	}{
		{name: "image", value: arrow.PrimitiveTypes.Uint8, shape: []int{1, 28, 28}, dims: []string{"C", "H", "W"}, size: 784},
		{name: "float with permutation", value: arrow.PrimitiveTypes.Float32, shape: []int{3, 2}, perm: []int{1, 0}, size: 6},
		{name: "zero dimension", value: arrow.PrimitiveTypes.Float64, shape: []int{4, 0, 1 << 40}, wantErr: "no elements"},
		{name: "scalar", value: arrow.PrimitiveTypes.Int16, shape: []int{}, size: 1},
		{name: "negative", value: arrow.PrimitiveTypes.Uint8, shape: []int{2, -1}, wantErr: "negative"},
		{name: "overflow", value: arrow.PrimitiveTypes.Uint8, shape: []int{1 << 16, 1 << 16}, wantErr: "exceeds"},
		{name: "dim names length", value: arrow.PrimitiveTypes.Uint8, shape: []int{2, 2}, dims: []string{"H"}, wantErr: "dim_names"},
		{name: "permutation repeat", value: arrow.PrimitiveTypes.Uint8, shape: []int{2, 2}, perm: []int{1, 1}, wantErr: "not a permutation"},
		{name: "permutation range", value: arrow.PrimitiveTypes.Uint8, shape: []int{2, 2}, perm: []int{0, 2}, wantErr: "not a permutation"},
		{name: "permutation length", value: arrow.PrimitiveTypes.Uint8, shape: []int{2, 2}, perm: []int{0}, wantErr: "entries"},
		{name: "string elements", value: arrow.BinaryTypes.String, shape: []int{2}, wantErr: "fixed-width"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt, err := NewFixedShapeTensorType(tc.value, tc.shape, tc.dims, tc.perm)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.Size() != tc.size || !slices.Equal(tt.Shape(), tc.shape) || !arrow.TypeEqual(tt.ValueType(), tc.value) {
				t.Errorf("got size %d shape %v value %v", tt.Size(), tt.Shape(), tt.ValueType())
			}
			// Serialize then Deserialize gives back an equal type.
			back, err := tt.Deserialize(tt.StorageType(), tt.Serialize())
			if err != nil {
				t.Fatalf("deserialize %s: %v", tt.Serialize(), err)
			}
			if !tt.ExtensionEquals(back) || !arrow.TypeEqual(tt, back) {
				t.Errorf("round trip of %s gave %s", tt, back)
			}
		})
	}
}

func TestSerializeFormat(t *testing.T) {
	tt, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Uint8, []int{1, 28, 28}, []string{"C", "H", "W"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"shape":[1,28,28],"dim_names":["C","H","W"]}`
	if got := tt.Serialize(); got != want {
		t.Errorf("Serialize() = %s, want %s", got, want)
	}
	if got, want := tt.String(), "extension<arrow.fixed_shape_tensor[value_type=uint8, shape=[1,28,28], dim_names=[C,H,W]]>"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	tp, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Float32, []int{2, 3}, nil, []int{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(tp.Serialize()), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["dim_names"]; ok || len(got) != 2 {
		t.Errorf("Serialize() = %s, want shape and permutation only", tp.Serialize())
	}
}

func TestDeserializeRefuses(t *testing.T) {
	fsl := func(n int32) arrow.DataType { return arrow.FixedSizeListOf(n, arrow.PrimitiveTypes.Uint8) }
	tests := []struct {
		name    string
		storage arrow.DataType
		meta    string
		wantErr string
	}{
		{"not a list", arrow.PrimitiveTypes.Uint8, `{"shape":[1]}`, "fixed_size_list"},
		{"variable list", arrow.ListOf(arrow.PrimitiveTypes.Uint8), `{"shape":[1]}`, "fixed_size_list"},
		{"bad json", fsl(4), `{"shape":[2,2]`, "metadata"},
		{"no shape", fsl(4), `{"dim_names":["a"]}`, "no shape"},
		{"fractional", fsl(4), `{"shape":[2.5,2]}`, "metadata"},
		{"string dims", fsl(4), `{"shape":["2","2"]}`, "metadata"},
		{"product mismatch", fsl(5), `{"shape":[2,2]}`, "storage list size is 5"},
		{"negative", fsl(4), `{"shape":[-2,-2]}`, "negative"},
		{"overflow", fsl(4), `{"shape":[4294967296,4294967296]}`, "out of range"},
		{"product overflow", fsl(4), `{"shape":[65536,65536,65536]}`, "exceeds"},
		{"dim names", fsl(4), `{"shape":[2,2],"dim_names":["H","W","C"]}`, "dim_names"},
		{"dim names type", fsl(4), `{"shape":[2,2],"dim_names":[1,2]}`, "metadata"},
		{"permutation", fsl(4), `{"shape":[2,2],"permutation":[0,0]}`, "not a permutation"},
		{"permutation length", fsl(4), `{"shape":[2,2],"permutation":[0,1,2]}`, "entries"},
		{"string elements", arrow.FixedSizeListOf(4, arrow.BinaryTypes.String), `{"shape":[4]}`, "fixed-width"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&FixedShapeTensorType{}).Deserialize(tc.storage, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestDeserializeAccepts(t *testing.T) {
	fsl := arrow.FixedSizeListOf(6, arrow.PrimitiveTypes.Float32)
	tests := []struct {
		meta  string
		shape []int
		dims  []string
		perm  []int
	}{
		{`{"shape":[2,3]}`, []int{2, 3}, nil, nil},
		{`{"shape":[2,3],"dim_names":["H","W"],"permutation":[1,0]}`, []int{2, 3}, []string{"H", "W"}, []int{1, 0}},
		// Empty lists mean "none", as in Arrow C++; unknown keys are ignored.
		{`{"shape":[6],"dim_names":[],"permutation":[],"extra":1}`, []int{6}, nil, nil},
	}
	for _, tc := range tests {
		got, err := (&FixedShapeTensorType{}).Deserialize(fsl, tc.meta)
		if err != nil {
			t.Fatalf("%s: %v", tc.meta, err)
		}
		tt := got.(*FixedShapeTensorType)
		if !slices.Equal(tt.Shape(), tc.shape) || !slices.Equal(tt.DimNames(), tc.dims) || !slices.Equal(tt.Permutation(), tc.perm) {
			t.Errorf("%s: got shape %v dims %v perm %v", tc.meta, tt.Shape(), tt.DimNames(), tt.Permutation())
		}
	}
}

func TestExtensionEquals(t *testing.T) {
	mk := func(value arrow.DataType, shape []int, dims []string, perm []int) *FixedShapeTensorType {
		t.Helper()
		tt, err := NewFixedShapeTensorType(value, shape, dims, perm)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	u8 := arrow.PrimitiveTypes.Uint8
	base := mk(u8, []int{2, 3}, nil, nil)
	tests := []struct {
		name  string
		other *FixedShapeTensorType
		want  bool
	}{
		{"same", mk(u8, []int{2, 3}, nil, nil), true},
		{"identity permutation", mk(u8, []int{2, 3}, nil, []int{0, 1}), true},
		{"permutation", mk(u8, []int{2, 3}, nil, []int{1, 0}), false},
		{"shape", mk(u8, []int{3, 2}, nil, nil), false},
		{"dim names", mk(u8, []int{2, 3}, []string{"H", "W"}, nil), false},
		{"element type", mk(arrow.PrimitiveTypes.Int8, []int{2, 3}, nil, nil), false},
	}
	for _, tc := range tests {
		if got := base.ExtensionEquals(tc.other); got != tc.want {
			t.Errorf("%s: ExtensionEquals = %v, want %v", tc.name, got, tc.want)
		}
		if got := arrow.TypeEqual(base, tc.other); got != tc.want {
			t.Errorf("%s: TypeEqual = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTensorIPC checks that the registered type comes back from a plain
// arrow-go ipc reader as a typed column, sliced arrays included.
func TestTensorIPC(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tt, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Float32, []int{2, 2}, []string{"H", "W"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewExtensionBuilder(mem, tt)
	defer b.Release()
	lb := b.StorageBuilder().(*array.FixedSizeListBuilder)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	want := []float32{1, 2, 3, 4, 5, 6, 7, float32(math.NaN())}
	for i := 0; i < 2; i++ {
		lb.Append(true)
		vb.AppendValues(want[4*i:4*i+4], nil)
	}
	arr := b.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: tt}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{arr}, 2)
	defer rec.Release()

	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatalf("no record: %v", r.Err())
	}
	col, ok := r.RecordBatch().Column(0).(*FixedShapeTensorArray)
	if !ok {
		t.Fatalf("column is %T, want *FixedShapeTensorArray", r.RecordBatch().Column(0))
	}
	if !arrow.TypeEqual(col.TensorType(), tt) {
		t.Errorf("type %s, want %s", col.TensorType(), tt)
	}
	vals := col.Values()
	defer vals.Release()
	got := vals.(*array.Float32).Float32Values()
	if len(got) != 8 || !slices.Equal(got[:7], want[:7]) || !math.IsNaN(float64(got[7])) {
		t.Errorf("values %v, want %v", got, want)
	}
	second := array.NewSlice(col, 1, 2).(*FixedShapeTensorArray)
	defer second.Release()
	sv := second.Values()
	defer sv.Release()
	if got := sv.(*array.Float32).Float32Values(); !slices.Equal(got[:3], want[4:7]) || len(got) != 4 {
		t.Errorf("slice values %v, want %v", got, want[4:])
	}
	if s := col.ValueStr(0); s != "[1,2,3,4]" {
		t.Errorf("ValueStr(0) = %q", s)
	}
}

// foreignTensor stands for another package's implementation of the
// canonical type, which this package must still understand.
type foreignTensor struct {
	arrow.ExtensionBase
	meta string
}

func (*foreignTensor) ExtensionName() string { return FixedShapeTensorName }
func (f *foreignTensor) Serialize() string   { return f.meta }
func (*foreignTensor) ArrayType() reflect.Type {
	return reflect.TypeOf(FixedShapeTensorArray{})
}
func (*foreignTensor) Deserialize(arrow.DataType, string) (arrow.ExtensionType, error) {
	return nil, nil
}
func (f *foreignTensor) ExtensionEquals(o arrow.ExtensionType) bool { return false }

func TestForeignTensorType(t *testing.T) {
	ours, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Uint8, []int{2, 3}, []string{"H", "W"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	storage := arrow.FixedSizeListOf(6, arrow.PrimitiveTypes.Uint8)
	same := &foreignTensor{arrow.ExtensionBase{Storage: storage}, `{"shape":[2,3],"dim_names":["H","W"]}`}
	other := &foreignTensor{arrow.ExtensionBase{Storage: storage}, `{"shape":[3,2]}`}
	if !ours.ExtensionEquals(same) || ours.ExtensionEquals(other) {
		t.Errorf("ExtensionEquals(same) = %v, (other) = %v", ours.ExtensionEquals(same), ours.ExtensionEquals(other))
	}
	got, err := asTensorType(same)
	if err != nil || !slices.Equal(got.Shape(), []int{2, 3}) {
		t.Errorf("asTensorType = %v, %v", got, err)
	}
	if _, err := asTensorType(arrow.PrimitiveTypes.Uint8); !errors.Is(err, errNotTensor) {
		t.Errorf("asTensorType(uint8) err = %v", err)
	}
	transposed, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Uint8, []int{3, 2}, []string{"H", "W"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ours.Fingerprint() == transposed.Fingerprint() {
		t.Error("fingerprint ignores the shape")
	}
}
