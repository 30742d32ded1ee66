// Package examples is the one check every tool makes of the examples it
// gives a model: images of exactly the model's input shape, labels among
// its classes, pixel values in [0,1] once scaled by the stream's pixel
// scale (so no NaN, infinity, negative value or value above 1), and record
// batches no larger than the tool works on. Tools differ in what they do
// with examples, not in what they accept.
package examples

import (
	"fmt"
	"io"
	"slices"

	"sgn/format/stream"
)

// Model is what a model asks of its examples.
type Model struct {
	Shape   []int // input shape, C,H,W
	Classes int
}

// CheckShape refuses images whose shape is not exactly the model's: the
// same values in another layout ([784] or [1,1,28,28] for [1,28,28]) would
// be read as other images.
func (m Model) CheckShape(shape []int) error {
	if !slices.Equal(shape, m.Shape) {
		return fmt.Errorf("examples have shape %v, the model takes %v", shape, m.Shape)
	}
	return nil
}

// CheckLabels refuses a label outside [0,classes); labels[i] is the label
// of the example at position first+i of its stream.
func CheckLabels(labels []int64, first int64, classes int) error {
	for i, l := range labels {
		if l < 0 || l >= int64(classes) {
			return fmt.Errorf("example %d has label %d, outside the model's %d classes", first+int64(i), l, classes)
		}
	}
	return nil
}

// CheckPixels refuses a value of x outside [0,1]; x holds examples of d
// values, the first at position first of its stream.
func CheckPixels(x []float32, d int, first int64) error {
	for i, v := range x {
		if !inUnit(v) {
			return pixelError(v, first+int64(i/d))
		}
	}
	return nil
}

// CheckBatch checks the pixels of every example of b, a batch of a stream
// of header h whose first example is at position first, as CheckPixels
// checks them once converted, without converting them: sgn-train holds its
// data this way, and its float32 expansion would be four times its size.
func CheckBatch(h stream.Header, b *stream.Batch, first int64) error {
	d, scale := h.ExampleSize(), h.Scale()
	if h.Elem == stream.Float32 {
		for i, v := range b.Floats {
			if scale != 1 {
				v *= scale // as Float32Images scales
			}
			if !inUnit(v) {
				return pixelError(v, first+int64(i/d))
			}
		}
		return nil
	}
	// A byte has 256 values: each is checked once, as Float32Images
	// converts it.
	var bad [256]bool
	for p := range bad {
		bad[p] = !inUnit(float32(p) * scale)
	}
	for i, p := range b.Pixels {
		if bad[p] {
			return pixelError(float32(p)*scale, first+int64(i/d))
		}
	}
	return nil
}

func inUnit(v float32) bool { return v >= 0 && v <= 1 }

func pixelError(v float32, example int64) error {
	return fmt.Errorf("example %d has pixel %v outside [0,1]", example, v)
}

// MaxRows is the largest record batch a tool working on batch examples at
// a time reads: its batch, and at least the record batches the sgn tools
// write.
func MaxRows(batch int) int { return max(batch, stream.DefaultBatchRows) }

// Reader reads a stream of examples for a model, refusing, with an error
// naming the stream and the example, what the model cannot take.
type Reader struct {
	*stream.Reader
	name   string
	model  Model
	header stream.Header
	first  int64 // position of the current batch's first example
	next   int64
	images []float32
	err    error
}

// NewReader reads the header of a stream named name in messages (a file,
// "stdin") and checks its image shape; the tool works on batch examples at
// a time, which bounds the record batches it accepts (MaxRows).
func NewReader(name string, r io.Reader, m Model, batch int) (*Reader, error) {
	sr, err := stream.NewReader(r, stream.WithMaxRows(MaxRows(batch)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h := sr.Header()
	if err := m.CheckShape(h.Shape); err != nil {
		sr.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Reader{Reader: sr, name: name, model: m, header: h}, nil
}

// Next reads the next record batch and checks its labels and pixels.
func (r *Reader) Next() bool {
	if r.err != nil || !r.Reader.Next() {
		return false
	}
	b := r.Reader.Batch()
	r.first = r.next
	r.next += int64(b.Len())
	if err := CheckLabels(b.Labels, r.first, r.model.Classes); err != nil {
		r.err = fmt.Errorf("%s: %w", r.name, err)
		return false
	}
	r.images = r.header.Float32Images(b, r.images)
	if err := CheckPixels(r.images, r.header.ExampleSize(), r.first); err != nil {
		r.err = fmt.Errorf("%s: %w", r.name, err)
		return false
	}
	return true
}

// Images returns the current batch's images as values in [0,1], valid
// until the next call to Next.
func (r *Reader) Images() []float32 { return r.images }

// First returns the position in the stream of the current batch's first
// example.
func (r *Reader) First() int64 { return r.first }

// Len returns how many examples the stream held up to the current batch.
func (r *Reader) Len() int64 { return r.next }

// Err returns the error that stopped Next, naming the stream.
func (r *Reader) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.Reader.Err(); err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return nil
}
