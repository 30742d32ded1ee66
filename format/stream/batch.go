package stream

// Column is one extra column of a batch. Exactly one of its slices is
// non-nil, the one matching the column's ColumnType; a Float32TensorColumn
// is held in Float32, row after row, ColumnSpec.Size() values a row.
type Column struct {
	Name    string
	Int64   []int64
	Float32 []float32
	Float64 []float64
}

// Len returns the number of values in the column: its rows times
// ColumnSpec.Size() for a tensor column.
func (c Column) Len() int {
	return max(len(c.Int64), len(c.Float32), len(c.Float64))
}

// set reports how many of the column's slices are non-nil.
func (c Column) set() int {
	n := 0
	for _, isSet := range []bool{c.Int64 != nil, c.Float32 != nil, c.Float64 != nil} {
		if isSet {
			n++
		}
	}
	return n
}

// typ returns the type of the column's non-nil slice.
func (c Column) typ() ColumnType {
	switch {
	case c.Int64 != nil:
		return Int64Column
	case c.Float32 != nil:
		return Float32Column
	case c.Float64 != nil:
		return Float64Column
	}
	return 0
}

// Batch is a run of examples. Image data is row-major per example, example
// after example: Len()*ExampleSize() values in Pixels (uint8 streams) or
// Floats (float32 streams).
type Batch struct {
	Pixels []uint8   // image data when Elem==Uint8
	Floats []float32 // image data when Elem==Float32
	Labels []int64
	Extra  []Column // in Header.Extra order
}

// Len returns the number of examples, len(Labels).
func (b *Batch) Len() int { return len(b.Labels) }

// Column returns the extra column with the given name.
func (b *Batch) Column(name string) (Column, bool) {
	for _, c := range b.Extra {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
