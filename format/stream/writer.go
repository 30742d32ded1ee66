package stream

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultBatchRows is the default number of rows per record batch.
const DefaultBatchRows = 256

type writerConfig struct {
	zstd bool
	rows int
	mem  memory.Allocator
}

// A WriterOption configures NewWriter.
type WriterOption func(*writerConfig) error

// WithZstd compresses record batch bodies with zstd (Arrow IPC body
// compression, which every Arrow implementation with zstd support reads).
func WithZstd() WriterOption {
	return func(c *writerConfig) error {
		c.zstd = true
		return nil
	}
}

// WithBatchRows sets the number of rows per record batch (default
// DefaultBatchRows); Write buffers and re-chunks its input to this size.
func WithBatchRows(n int) WriterOption {
	return func(c *writerConfig) error {
		if n < 1 {
			return fmt.Errorf("batch rows %d is below 1", n)
		}
		c.rows = n
		return nil
	}
}

// writerAllocator sets the allocator arrow-go uses while writing (tests
// use a checked allocator to find leaks).
func writerAllocator(mem memory.Allocator) WriterOption {
	return func(c *writerConfig) error {
		c.mem = mem
		return nil
	}
}

// Writer writes an example stream.
type Writer struct {
	bw     *bufio.Writer
	ipc    *ipc.Writer
	header Header
	schema *arrow.Schema
	tensor *FixedShapeTensorType
	rows   int
	pend   Batch // rows waiting for a full record batch
	closed bool
	err    error // first write error; the stream is broken after it
}

// NewWriter checks h and returns a writer of examples described by it.
// The schema is written with the first record batch, or by Close.
func NewWriter(w io.Writer, h Header, opts ...WriterOption) (*Writer, error) {
	cfg := writerConfig{rows: DefaultBatchRows, mem: memory.DefaultAllocator}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h = h.clone()
	schema, tt, err := h.schema()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	ipcOpts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(cfg.mem)}
	if cfg.zstd {
		ipcOpts = append(ipcOpts, ipc.WithZstd())
	}
	wr := &Writer{
		bw:     bw,
		ipc:    ipc.NewWriter(bw, ipcOpts...),
		header: h,
		schema: schema,
		tensor: tt,
		rows:   cfg.rows,
	}
	for _, c := range h.Extra {
		wr.pend.Extra = append(wr.pend.Extra, Column{Name: c.Name})
	}
	return wr, nil
}

// check returns an error if b does not fit the header.
func (w *Writer) check(b *Batch) error {
	n, size := b.Len(), w.header.ExampleSize()
	switch w.header.Elem {
	case Uint8:
		if len(b.Floats) > 0 {
			return fmt.Errorf("batch has float32 images, the header says uint8")
		}
		if len(b.Pixels) != n*size {
			return fmt.Errorf("batch has %d pixels for %d examples of %d", len(b.Pixels), n, size)
		}
	case Float32:
		if len(b.Pixels) > 0 {
			return fmt.Errorf("batch has uint8 images, the header says float32")
		}
		if len(b.Floats) != n*size {
			return fmt.Errorf("batch has %d image values for %d examples of %d", len(b.Floats), n, size)
		}
	}
	if len(b.Extra) != len(w.header.Extra) {
		return fmt.Errorf("batch has %d extra columns, the header %d", len(b.Extra), len(w.header.Extra))
	}
	for i, spec := range w.header.Extra {
		c := b.Extra[i]
		if c.Name != spec.Name {
			return fmt.Errorf("batch column %d is %q, the header says %q", i, c.Name, spec.Name)
		}
		if n == 0 && c.Len() == 0 {
			continue
		}
		if c.set() != 1 || c.typ() != spec.Type.values() {
			return fmt.Errorf("batch column %q does not hold exactly its %v values", c.Name, spec.Type)
		}
		if c.Len() != n*spec.Size() {
			return fmt.Errorf("batch column %q has %d values for %d examples of %d", c.Name, c.Len(), n, spec.Size())
		}
	}
	return nil
}

// Write adds b's examples to the stream. b may hold any number of rows;
// they are written in record batches of the configured size.
func (w *Writer) Write(b *Batch) error {
	if w.closed {
		return errors.New("write to closed stream writer")
	}
	if w.err != nil {
		return w.err
	}
	if b == nil {
		return errors.New("write nil batch")
	}
	if err := w.check(b); err != nil {
		return err
	}
	size := w.header.ExampleSize()
	for start, n := 0, b.Len(); start < n; {
		pending := w.pend.Len()
		if pending == 0 && n-start >= w.rows {
			// A whole batch straight from the caller's slices.
			if err := w.writeRecord(w.slice(b, start, start+w.rows, size)); err != nil {
				return err
			}
			start += w.rows
			continue
		}
		k := min(w.rows-pending, n-start)
		appendRows(&w.pend, w.slice(b, start, start+k, size))
		start += k
		if w.pend.Len() == w.rows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// slice returns rows [i, j) of b, sharing its memory; size is the image
// size, the header gives each extra column's.
func (w *Writer) slice(b *Batch, i, j, size int) *Batch {
	s := &Batch{Labels: b.Labels[i:j]}
	if b.Pixels != nil {
		s.Pixels = b.Pixels[i*size : j*size]
	}
	if b.Floats != nil {
		s.Floats = b.Floats[i*size : j*size]
	}
	for k, c := range b.Extra {
		d := Column{Name: c.Name}
		if c.Int64 != nil {
			d.Int64 = c.Int64[i:j]
		}
		if c.Float32 != nil {
			per := w.header.Extra[k].Size()
			d.Float32 = c.Float32[i*per : j*per]
		}
		if c.Float64 != nil {
			d.Float64 = c.Float64[i:j]
		}
		s.Extra = append(s.Extra, d)
	}
	return s
}

func appendRows(dst, src *Batch) {
	dst.Pixels = append(dst.Pixels, src.Pixels...)
	dst.Floats = append(dst.Floats, src.Floats...)
	dst.Labels = append(dst.Labels, src.Labels...)
	for i, c := range src.Extra {
		d := &dst.Extra[i]
		d.Int64 = append(d.Int64, c.Int64...)
		d.Float32 = append(d.Float32, c.Float32...)
		d.Float64 = append(d.Float64, c.Float64...)
	}
}

// flush writes the pending rows as one record batch.
func (w *Writer) flush() error {
	if w.pend.Len() == 0 {
		return nil
	}
	err := w.writeRecord(&w.pend)
	w.pend.Pixels = w.pend.Pixels[:0]
	w.pend.Floats = w.pend.Floats[:0]
	w.pend.Labels = w.pend.Labels[:0]
	for i := range w.pend.Extra {
		c := &w.pend.Extra[i]
		c.Int64, c.Float32, c.Float64 = c.Int64[:0], c.Float32[:0], c.Float64[:0]
	}
	return err
}

// writeRecord writes b as one record batch without copying its slices:
// the ipc writer has serialized them when Write returns.
func (w *Writer) writeRecord(b *Batch) error {
	n := b.Len()
	var pixels []byte
	if w.header.Elem == Float32 {
		pixels = arrow.Float32Traits.CastToBytes(b.Floats)
	} else {
		pixels = b.Pixels
	}
	cols := make([]arrow.Array, 0, 2+len(b.Extra))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	cols = append(cols, tensorArray(w.tensor, n, pixels))
	cols = append(cols, primitive(arrow.PrimitiveTypes.Int64, n, arrow.Int64Traits.CastToBytes(b.Labels)))
	for i, spec := range w.header.Extra {
		c := b.Extra[i]
		var raw []byte
		switch spec.Type {
		case Int64Column:
			raw = arrow.Int64Traits.CastToBytes(c.Int64)
		case Float32Column:
			raw = arrow.Float32Traits.CastToBytes(c.Float32)
		case Float64Column:
			raw = arrow.Float64Traits.CastToBytes(c.Float64)
		case Float32TensorColumn:
			cols = append(cols, tensorArray(w.schema.Field(2+i).Type.(*FixedShapeTensorType), n, arrow.Float32Traits.CastToBytes(c.Float32)))
			continue
		}
		cols = append(cols, primitive(spec.Type.arrowType(), n, raw))
	}
	rec := array.NewRecordBatch(w.schema, cols, int64(n))
	defer rec.Release()
	if err := w.ipc.Write(rec); err != nil {
		w.err = fmt.Errorf("write record batch: %w", err)
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write record batch: %w", err)
		return w.err
	}
	return nil
}

// tensorArray returns an array of n tensors of type tt whose values are
// raw, without copying them.
func tensorArray(tt *FixedShapeTensorType, n int, raw []byte) arrow.Array {
	elems := array.NewData(tt.ValueType(), n*tt.Size(), []*memory.Buffer{nil, memory.NewBufferBytes(raw)}, nil, 0, 0)
	defer elems.Release()
	d := array.NewData(tt, n, []*memory.Buffer{nil}, []arrow.ArrayData{elems}, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

func primitive(t arrow.DataType, n int, raw []byte) arrow.Array {
	d := array.NewData(t, n, []*memory.Buffer{nil, memory.NewBufferBytes(raw)}, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// Close writes the pending rows and the end-of-stream marker. It does not
// close the underlying io.Writer. After a write error it writes nothing
// more, so that the reader sees a truncated stream rather than a complete
// one. Closing twice is a no-op.
func (w *Writer) Close() error {
	if w.closed || w.err != nil {
		w.closed = true
		return w.err
	}
	w.closed = true
	ferr := w.flush()
	cerr := w.ipc.Close()
	if ferr != nil {
		return ferr
	}
	if cerr != nil {
		w.err = fmt.Errorf("close stream: %w", cerr)
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("close stream: %w", err)
		return w.err
	}
	return nil
}
