package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// ElemType is the storage type of the image column's elements.
type ElemType int

// Image element types. The zero ElemType is invalid, so that a Header
// must say which one it means.
const (
	Uint8 ElemType = iota + 1
	Float32
)

func (e ElemType) String() string {
	switch e {
	case Uint8:
		return "uint8"
	case Float32:
		return "float32"
	}
	return fmt.Sprintf("ElemType(%d)", int(e))
}

func (e ElemType) arrowType() arrow.DataType {
	if e == Float32 {
		return arrow.PrimitiveTypes.Float32
	}
	return arrow.PrimitiveTypes.Uint8
}

// ColumnType is the type of an extra column.
type ColumnType int

// Extra column types. The zero ColumnType is invalid.
const (
	Int64Column ColumnType = iota + 1
	Float32Column
	Float64Column
	// Float32TensorColumn holds a float32 tensor of ColumnSpec.Shape per
	// row, as the canonical arrow.fixed_shape_tensor type, like the image
	// column (sgn-grad's self-gradients).
	Float32TensorColumn
)

func (c ColumnType) String() string {
	switch c {
	case Int64Column:
		return "int64"
	case Float32Column:
		return "float32"
	case Float64Column:
		return "float64"
	case Float32TensorColumn:
		return "float32 tensor"
	}
	return fmt.Sprintf("ColumnType(%d)", int(c))
}

// values returns the type of the Column slice that holds a column of type
// c: a tensor column's values are in Float32.
func (c ColumnType) values() ColumnType {
	if c == Float32TensorColumn {
		return Float32Column
	}
	return c
}

func (c ColumnType) arrowType() arrow.DataType {
	switch c {
	case Float32Column, Float32TensorColumn:
		return arrow.PrimitiveTypes.Float32
	case Float64Column:
		return arrow.PrimitiveTypes.Float64
	}
	return arrow.PrimitiveTypes.Int64
}

// ColumnSpec names and types an extra column.
type ColumnSpec struct {
	Name  string
	Type  ColumnType
	Shape []int // per-row tensor shape of a Float32TensorColumn, else nil
}

// Size returns the number of values per row: the product of Shape for a
// tensor column, 1 for the others.
func (c ColumnSpec) Size() int {
	n := 1
	for _, d := range c.Shape {
		n *= d
	}
	return n
}

// Header describes an example stream: what its Arrow schema says.
type Header struct {
	Shape    []int             // per-example image shape, e.g. [1,28,28] (C,H,W)
	Elem     ElemType          // storage of the image column
	Extra    []ColumnSpec      // columns after "image" and "label"
	Metadata map[string]string // schema metadata
}

// ExampleSize returns the number of image elements per example,
// the product of Shape.
func (h Header) ExampleSize() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

// Scale returns the factor that maps stored image values to [0,1]: the
// MetaPixelScale metadata value if it is present and valid, otherwise 1/255
// for uint8 images and 1 for float32 images.
func (h Header) Scale() float32 {
	if s, ok := h.Metadata[MetaPixelScale]; ok {
		if v, err := parseScale(s); err == nil {
			return v
		}
	}
	if h.Elem == Uint8 {
		return 1.0 / 255
	}
	return 1
}

// Float32Images returns b's images as float32 values in [0,1] (stored
// values times Scale), appended to dst[:0].
func (h Header) Float32Images(b *Batch, dst []float32) []float32 {
	scale := h.Scale()
	dst = dst[:0]
	if h.Elem == Float32 {
		if scale == 1 {
			return append(dst, b.Floats...)
		}
		dst = slices.Grow(dst, len(b.Floats))
		for _, v := range b.Floats {
			dst = append(dst, v*scale)
		}
		return dst
	}
	dst = slices.Grow(dst, len(b.Pixels))
	for _, p := range b.Pixels {
		dst = append(dst, float32(p)*scale)
	}
	return dst
}

func (h Header) clone() Header {
	return Header{
		Shape:    slices.Clone(h.Shape),
		Elem:     h.Elem,
		Extra:    cloneSpecs(h.Extra),
		Metadata: maps.Clone(h.Metadata),
	}
}

func cloneSpecs(specs []ColumnSpec) []ColumnSpec {
	if specs == nil {
		return nil
	}
	out := make([]ColumnSpec, len(specs))
	for i, c := range specs {
		out[i] = ColumnSpec{Name: c.Name, Type: c.Type, Shape: slices.Clone(c.Shape)}
	}
	return out
}

func parseScale(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || v > math.MaxFloat32 {
		return 0, fmt.Errorf("metadata %s is %.40q, want a positive finite number", MetaPixelScale, s)
	}
	return float32(v), nil
}

// validate checks everything the writer and the reader both require of a
// header.
func (h Header) validate() error {
	if len(h.Shape) == 0 {
		return fmt.Errorf("image shape is empty")
	}
	for _, d := range h.Shape {
		if d <= 0 {
			return fmt.Errorf("image shape %v has a dimension below 1", h.Shape)
		}
	}
	if _, err := tensorSize(h.Shape); err != nil {
		return err
	}
	if h.Elem != Uint8 && h.Elem != Float32 {
		return fmt.Errorf("image element type %v, want uint8 or float32", h.Elem)
	}
	seen := map[string]bool{ImageColumn: true, LabelColumn: true}
	for _, c := range h.Extra {
		if c.Name == "" {
			return fmt.Errorf("extra column with an empty name")
		}
		if seen[c.Name] {
			return fmt.Errorf("column %q appears twice", c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case Int64Column, Float32Column, Float64Column:
			if c.Shape != nil {
				return fmt.Errorf("column %q of type %v has a tensor shape", c.Name, c.Type)
			}
		case Float32TensorColumn:
			if len(c.Shape) == 0 {
				return fmt.Errorf("tensor column %q has no shape", c.Name)
			}
			if slices.ContainsFunc(c.Shape, func(d int) bool { return d <= 0 }) {
				return fmt.Errorf("tensor column %q: shape %v has a dimension below 1", c.Name, c.Shape)
			}
			if _, err := tensorSize(c.Shape); err != nil {
				return fmt.Errorf("tensor column %q: %w", c.Name, err)
			}
		default:
			return fmt.Errorf("column %q has type %v, want int64, float32, float64 or float32 tensor", c.Name, c.Type)
		}
	}
	if s, ok := h.Metadata[MetaPixelScale]; ok {
		if _, err := parseScale(s); err != nil {
			return err
		}
	}
	if s, ok := h.Metadata[MetaClasses]; ok {
		var names []string
		if err := json.Unmarshal([]byte(s), &names); err != nil {
			return fmt.Errorf("metadata %s is %.40q, want a JSON array of strings", MetaClasses, s)
		}
	}
	return nil
}

// schema returns the Arrow schema of a valid header.
func (h Header) schema() (*arrow.Schema, *FixedShapeTensorType, error) {
	var dimNames []string
	if len(h.Shape) == 3 {
		dimNames = []string{"C", "H", "W"}
	}
	tt, err := NewFixedShapeTensorType(h.Elem.arrowType(), h.Shape, dimNames, nil)
	if err != nil {
		return nil, nil, err
	}
	fields := []arrow.Field{
		{Name: ImageColumn, Type: tt},
		{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64},
	}
	for _, c := range h.Extra {
		if c.Type == Float32TensorColumn {
			ct, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Float32, c.Shape, nil, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("column %q: %w", c.Name, err)
			}
			fields = append(fields, arrow.Field{Name: c.Name, Type: ct})
			continue
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.arrowType()})
	}
	keys := slices.Sorted(maps.Keys(h.Metadata))
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = h.Metadata[k]
	}
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &md), tt, nil
}

// layout says where a column sits in the schema and how to check and
// convert it.
type layout struct {
	image, label int      // field indices
	extra        []int    // field indices of Header.Extra
	cols         []colDef // per schema field, for checking record batches
}

// colDef describes one schema field's physical layout: a primitive column
// (listSize 0) or a FixedSizeList of listSize primitive elements.
type colDef struct {
	name     string
	width    int // bytes per primitive element
	listSize int
}

// headerFromSchema checks a stream's schema and returns its header.
func headerFromSchema(s *arrow.Schema) (Header, layout, error) {
	var (
		h   Header
		lay = layout{image: -1, label: -1}
	)
	seen := make(map[string]bool)
	for i, f := range s.Fields() {
		if seen[f.Name] {
			return h, lay, fmt.Errorf("schema: column %q appears twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Name {
		case ImageColumn:
			tt, err := asTensorType(f.Type)
			if errors.Is(err, errNotTensor) {
				return h, lay, fmt.Errorf("schema: column %q has type %v, want %s", f.Name, f.Type, FixedShapeTensorName)
			}
			if err != nil {
				return h, lay, fmt.Errorf("schema: column %q: %w", f.Name, err)
			}
			switch tt.ValueType().ID() {
			case arrow.UINT8:
				h.Elem = Uint8
			case arrow.FLOAT32:
				h.Elem = Float32
			default:
				return h, lay, fmt.Errorf("schema: column %q holds %v tensors, want uint8 or float32", f.Name, tt.ValueType())
			}
			h.Shape = tt.Shape()
			lay.image = i
			lay.cols = append(lay.cols, colDef{name: f.Name, width: elemWidth(h.Elem), listSize: tt.Size()})
		case LabelColumn:
			if !arrow.TypeEqual(f.Type, arrow.PrimitiveTypes.Int64) {
				return h, lay, fmt.Errorf("schema: column %q has type %v, want int64", f.Name, f.Type)
			}
			lay.label = i
			lay.cols = append(lay.cols, colDef{name: f.Name, width: 8})
		default:
			var c ColumnSpec
			switch f.Type.ID() {
			case arrow.INT64:
				c, lay.cols = ColumnSpec{f.Name, Int64Column, nil}, append(lay.cols, colDef{name: f.Name, width: 8})
			case arrow.FLOAT32:
				c, lay.cols = ColumnSpec{f.Name, Float32Column, nil}, append(lay.cols, colDef{name: f.Name, width: 4})
			case arrow.FLOAT64:
				c, lay.cols = ColumnSpec{f.Name, Float64Column, nil}, append(lay.cols, colDef{name: f.Name, width: 8})
			case arrow.EXTENSION:
				tt, err := asTensorType(f.Type)
				if err != nil || tt.ValueType().ID() != arrow.FLOAT32 {
					return h, lay, fmt.Errorf("schema: column %q has type %v, want a %s of float32", f.Name, f.Type, FixedShapeTensorName)
				}
				c, lay.cols = ColumnSpec{f.Name, Float32TensorColumn, tt.Shape()}, append(lay.cols, colDef{name: f.Name, width: 4, listSize: tt.Size()})
			default:
				return h, lay, fmt.Errorf("schema: column %q has type %v, want int64, float32, float64 or a %s of float32", f.Name, f.Type, FixedShapeTensorName)
			}
			h.Extra = append(h.Extra, c)
			lay.extra = append(lay.extra, i)
		}
	}
	if lay.image < 0 {
		return h, lay, fmt.Errorf("schema: no %q column", ImageColumn)
	}
	if lay.label < 0 {
		return h, lay, fmt.Errorf("schema: no %q column", LabelColumn)
	}
	if md := s.Metadata(); md.Len() > 0 {
		h.Metadata = make(map[string]string, md.Len())
		for i, k := range md.Keys() {
			h.Metadata[k] = md.Values()[i]
		}
	}
	if err := h.validate(); err != nil {
		return h, lay, fmt.Errorf("schema: %w", err)
	}
	return h, lay, nil
}

// bodyLimit is the most bytes a record batch of rows rows can need: its
// values, validity bitmaps, each buffer's padding and compression header,
// and zstd's overhead on incompressible data (a few bytes per 128 KiB).
func (lay layout) bodyLimit(rows int64) int64 {
	var values int64
	for _, c := range lay.cols {
		values += int64(c.width * max(c.listSize, 1))
	}
	buffers := int64(3 * len(lay.cols))
	return rows*values + (rows/8+1)*buffers + rows*values/1024 + 128*buffers + 4096
}

func elemWidth(e ElemType) int {
	if e == Float32 {
		return 4
	}
	return 1
}
