package stream

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultMaxBatchBytes is the default limit on one record batch's body and
// on its decompressed size.
const DefaultMaxBatchBytes = 1 << 30

type readerConfig struct {
	maxBatch int64
	maxRows  int64
	mem      memory.Allocator
}

// A ReaderOption configures NewReader.
type ReaderOption func(*readerConfig) error

// WithMaxBatchBytes makes the reader refuse a record batch whose declared
// body, or decompressed size, exceeds n bytes (default DefaultMaxBatchBytes)
// before allocating memory for it.
func WithMaxBatchBytes(n int64) ReaderOption {
	return func(c *readerConfig) error {
		if n <= 0 {
			return fmt.Errorf("max batch bytes %d is not positive", n)
		}
		c.maxBatch = n
		return nil
	}
}

// WithMaxRows makes the reader refuse a record batch of more than n rows,
// and lowers the limit on a batch's bytes to what n rows of the stream's
// schema can take (with room for padding, validity bitmaps and compression
// headers): a consumer that works on a few hundred examples at a time need
// not hold a gigabyte record batch for them, nor its float32 expansion.
// Every sgn tool writes record batches of DefaultBatchRows rows.
func WithMaxRows(n int) ReaderOption {
	return func(c *readerConfig) error {
		if n <= 0 {
			return fmt.Errorf("max rows %d is not positive", n)
		}
		c.maxRows = int64(n)
		return nil
	}
}

// readerAllocator sets the allocator for decompressed buffers (tests use a
// checked allocator to find leaks).
func readerAllocator(mem memory.Allocator) ReaderOption {
	return func(c *readerConfig) error {
		c.mem = mem
		return nil
	}
}

// Reader reads an example stream one record batch at a time.
type Reader struct {
	mr     *messageReader
	ipc    *ipc.Reader
	header Header
	lay    layout
	batch  Batch
	err    error
}

// NewReader reads and checks the stream's schema.
func NewReader(r io.Reader, opts ...ReaderOption) (*Reader, error) {
	cfg := readerConfig{maxBatch: DefaultMaxBatchBytes, mem: memory.DefaultAllocator}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	mr := newMessageReader(r, cfg.maxBatch)
	ir, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(cfg.mem))
	if err != nil {
		// The ipc reader took mr's reference and has released it.
		if mr.err != nil {
			return nil, mr.err
		}
		var te *tensorError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("schema: %w", te)
		}
		return nil, fmt.Errorf("schema: %w", err)
	}
	h, lay, err := headerFromSchema(ir.Schema())
	if err != nil {
		ir.Release()
		return nil, err
	}
	mr.lay = &lay
	if cfg.maxRows > 0 {
		mr.maxRows = cfg.maxRows
		mr.maxBody = min(mr.maxBody, lay.bodyLimit(cfg.maxRows))
	}
	return &Reader{mr: mr, ipc: ir, header: h, lay: lay}, nil
}

// Header returns the stream's header.
func (r *Reader) Header() Header { return r.header.clone() }

// Next reads the next record batch, reporting whether there is one. It
// returns false at the end of the stream or on an error (see Err).
func (r *Reader) Next() bool {
	if r.err != nil || r.ipc == nil {
		return false
	}
	if !r.ipc.Next() {
		switch {
		case r.mr.err != nil:
			r.err = r.mr.err
		case r.ipc.Err() != nil:
			r.err = fmt.Errorf("record batch %d: %w", r.mr.batches, r.ipc.Err())
		}
		return false
	}
	if err := r.load(r.ipc.RecordBatch()); err != nil {
		r.err = fmt.Errorf("record batch %d: %w", r.mr.batches, err)
		return false
	}
	return true
}

// load points r.batch at rec's columns. The message reader has already
// checked lengths, nulls and buffer sizes; the checks here guard against
// arrow-go decoding a batch differently from that check.
func (r *Reader) load(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	size := r.header.ExampleSize()
	for i, col := range rec.Columns() {
		if col.Len() != n || col.NullN() != 0 {
			return fmt.Errorf("column %q: %d values with %d nulls, want %d without nulls", rec.ColumnName(i), col.Len(), col.NullN(), n)
		}
	}
	b := &r.batch
	*b = Batch{Extra: b.Extra[:0]}
	ext, ok := rec.Column(r.lay.image).(array.ExtensionArray)
	if !ok {
		return fmt.Errorf("column %q is not an extension array", ImageColumn)
	}
	fsl, ok := ext.Storage().(*array.FixedSizeList)
	if !ok || fsl.Offset() != 0 {
		return fmt.Errorf("column %q: unexpected storage %T", ImageColumn, ext.Storage())
	}
	switch vals := fsl.ListValues().(type) {
	case *array.Uint8:
		if r.header.Elem != Uint8 || vals.Len() < n*size {
			return fmt.Errorf("column %q: %d uint8 elements, want %d", ImageColumn, vals.Len(), n*size)
		}
		b.Pixels = vals.Uint8Values()[:n*size]
	case *array.Float32:
		if r.header.Elem != Float32 || vals.Len() < n*size {
			return fmt.Errorf("column %q: %d float32 elements, want %d", ImageColumn, vals.Len(), n*size)
		}
		b.Floats = vals.Float32Values()[:n*size]
	default:
		return fmt.Errorf("column %q: unexpected elements %T", ImageColumn, vals)
	}
	labels, ok := rec.Column(r.lay.label).(*array.Int64)
	if !ok {
		return fmt.Errorf("column %q: unexpected array %T", LabelColumn, rec.Column(r.lay.label))
	}
	b.Labels = labels.Int64Values()
	for i, spec := range r.header.Extra {
		c := Column{Name: spec.Name}
		switch a := rec.Column(r.lay.extra[i]).(type) {
		case *array.Int64:
			c.Int64 = orEmpty(a.Int64Values())
		case *array.Float32:
			c.Float32 = orEmpty(a.Float32Values())
		case *array.Float64:
			c.Float64 = orEmpty(a.Float64Values())
		case array.ExtensionArray:
			fsl, ok := a.Storage().(*array.FixedSizeList)
			if !ok || fsl.Offset() != 0 || spec.Type != Float32TensorColumn {
				return fmt.Errorf("column %q: unexpected storage %T", spec.Name, a.Storage())
			}
			vals, ok := fsl.ListValues().(*array.Float32)
			if !ok || vals.Len() < n*spec.Size() {
				return fmt.Errorf("column %q: %T of %d elements, want %d float32", spec.Name, fsl.ListValues(), fsl.ListValues().Len(), n*spec.Size())
			}
			c.Float32 = orEmpty(vals.Float32Values()[:n*spec.Size()])
		default:
			return fmt.Errorf("column %q: unexpected array %T", spec.Name, a)
		}
		b.Extra = append(b.Extra, c)
	}
	return nil
}

// Batch returns the current batch. Its slices alias the reader's buffers:
// they are valid until the next call to Next or Close, and must be copied
// to be kept longer.
func (r *Reader) Batch() *Batch { return &r.batch }

// Err returns the error that stopped Next, or nil if the stream ended
// cleanly with its end-of-stream marker. A stream cut anywhere, even
// between two messages, is an error wrapping io.ErrUnexpectedEOF.
func (r *Reader) Err() error { return r.err }

// Close releases the reader's buffers. It does not close the io.Reader.
func (r *Reader) Close() {
	if r.ipc != nil {
		r.ipc.Release()
		r.ipc = nil
	}
	r.batch = Batch{}
}

// ReadAll reads a whole stream into one batch (limit 0), or its first
// limit rows. The returned batch owns its memory.
func ReadAll(r io.Reader, limit int) (Header, *Batch, error) {
	if limit < 0 {
		return Header{}, nil, fmt.Errorf("negative row limit %d", limit)
	}
	return readAll(r, limit, nil)
}

// ReadAllChecked is ReadAll of a whole stream that calls check with the
// stream's header before reading any record batch, and stops with check's
// error: a caller can refuse what it cannot use (a shape too large for its
// model, say) before the examples take memory.
func ReadAllChecked(r io.Reader, check func(Header) error) (Header, *Batch, error) {
	return readAll(r, 0, check)
}

func readAll(r io.Reader, limit int, check func(Header) error) (Header, *Batch, error) {
	sr, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	defer sr.Close()
	h := sr.Header()
	if check != nil {
		if err := check(h); err != nil {
			return Header{}, nil, err
		}
	}
	all := &Batch{}
	for _, c := range h.Extra {
		all.Extra = append(all.Extra, Column{Name: c.Name})
	}
	size := h.ExampleSize()
	for (limit == 0 || all.Len() < limit) && sr.Next() {
		b := sr.Batch()
		n := b.Len()
		if limit > 0 {
			n = min(n, limit-all.Len())
		}
		all.Pixels = append(all.Pixels, b.Pixels[:min(len(b.Pixels), n*size)]...)
		all.Floats = append(all.Floats, b.Floats[:min(len(b.Floats), n*size)]...)
		all.Labels = append(all.Labels, b.Labels[:n]...)
		for i, c := range b.Extra {
			dst := &all.Extra[i]
			dst.Int64 = append(dst.Int64, c.Int64[:min(len(c.Int64), n)]...)
			dst.Float32 = append(dst.Float32, c.Float32[:min(len(c.Float32), n*h.Extra[i].Size())]...)
			dst.Float64 = append(dst.Float64, c.Float64[:min(len(c.Float64), n)]...)
		}
	}
	if err := sr.Err(); err != nil {
		return Header{}, nil, err
	}
	// Set each column's slice even when the stream had no rows, so that
	// exactly one slice of each Column is non-nil.
	for i, c := range h.Extra {
		dst := &all.Extra[i]
		switch c.Type {
		case Int64Column:
			dst.Int64 = orEmpty(dst.Int64)
		case Float32Column, Float32TensorColumn:
			dst.Float32 = orEmpty(dst.Float32)
		case Float64Column:
			dst.Float64 = orEmpty(dst.Float64)
		}
	}
	return h, all, nil
}

// orEmpty returns s, or an empty non-nil slice if s is nil.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
