package stream

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// testHeader returns a small header; extra adds one column of each type.
func testHeader(elem ElemType, extra bool) Header {
	h := Header{
		Shape: []int{1, 3, 2},
		Elem:  elem,
		Metadata: map[string]string{
			MetaDataset: "toy",
			MetaSplit:   "test",
			MetaClasses: `["a","b","c"]`,
		},
	}
	if elem == Uint8 {
		h.Metadata[MetaPixelScale] = "0.00392156862745098"
	}
	if extra {
		h.Extra = []ColumnSpec{{Name: "clean_pred", Type: Int64Column}, {Name: "linf", Type: Float32Column}, {Name: "l2", Type: Float64Column},
			{Name: "selfgrad.input", Type: Float32TensorColumn, Shape: []int{2, 1, 3}}}
	}
	return h
}

// testBatch returns examples first to first+n-1 of a deterministic
// sequence; float images include NaNs, which the format must carry.
func testBatch(h Header, first, n int) *Batch {
	size := h.ExampleSize()
	b := &Batch{Labels: make([]int64, n)}
	for i := range n {
		b.Labels[i] = int64((first + i) % 10)
	}
	switch h.Elem {
	case Uint8:
		b.Pixels = make([]uint8, n*size)
		for i := range b.Pixels {
			b.Pixels[i] = uint8((first*size + i) * 7)
		}
	case Float32:
		b.Floats = make([]float32, n*size)
		for i := range b.Floats {
			g := first*size + i
			b.Floats[i] = float32(g) / 16
			if g%13 == 5 {
				b.Floats[i] = float32(math.NaN())
			}
		}
	}
	for _, c := range h.Extra {
		col := Column{Name: c.Name}
		switch c.Type {
		case Int64Column:
			col.Int64 = make([]int64, n)
			for i := range n {
				col.Int64[i] = -int64(first + i)
			}
		case Float32Column:
			col.Float32 = make([]float32, n)
			for i := range n {
				col.Float32[i] = float32(first+i) * 0.5
			}
		case Float64Column:
			col.Float64 = make([]float64, n)
			for i := range n {
				col.Float64[i] = math.Sqrt(float64(first + i))
			}
		case Float32TensorColumn:
			per := c.Size()
			col.Float32 = make([]float32, n*per)
			for i := range col.Float32 {
				col.Float32[i] = float32(first*per+i) / 8
			}
		}
		b.Extra = append(b.Extra, col)
	}
	return b
}

// writeStream writes the examples in chunks of the given sizes.
func writeStream(t testing.TB, h Header, chunks []int, opts ...WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	for _, n := range chunks {
		if err := w.Write(testBatch(h, first, n)); err != nil {
			t.Fatal(err)
		}
		first += n
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameBatch reports whether a and b hold the same values, NaN equal to NaN.
func sameBatch(a, b *Batch) bool {
	f32 := func(x, y []float32) bool {
		return slices.EqualFunc(x, y, func(p, q float32) bool { return math.Float32bits(p) == math.Float32bits(q) })
	}
	if !bytes.Equal(a.Pixels, b.Pixels) || !f32(a.Floats, b.Floats) || !slices.Equal(a.Labels, b.Labels) || len(a.Extra) != len(b.Extra) {
		return false
	}
	for i, c := range a.Extra {
		d := b.Extra[i]
		if c.Name != d.Name || !slices.Equal(c.Int64, d.Int64) || !f32(c.Float32, d.Float32) || !slices.Equal(c.Float64, d.Float64) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		elem   ElemType
		extra  bool
		zstd   bool
		rows   int   // batch rows, 0 for the default
		chunks []int // rows per Write
	}{
		{name: "uint8", elem: Uint8, chunks: []int{5}},
		{name: "uint8 extras zstd", elem: Uint8, extra: true, zstd: true, chunks: []int{300, 0, 1, 256, 600}},
		{name: "float32 extras", elem: Float32, extra: true, rows: 7, chunks: []int{3, 3, 3, 20, 1}},
		{name: "float32 zstd", elem: Float32, zstd: true, rows: 4, chunks: []int{4, 8, 2}},
		{name: "empty", elem: Uint8, extra: true, chunks: nil},
		{name: "one row batches", elem: Float32, extra: true, rows: 1, chunks: []int{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer wmem.AssertSize(t, 0)
			h := testHeader(tc.elem, tc.extra)
			opts := []WriterOption{writerAllocator(wmem)}
			if tc.zstd {
				opts = append(opts, WithZstd())
			}
			rows := DefaultBatchRows
			if tc.rows > 0 {
				rows = tc.rows
				opts = append(opts, WithBatchRows(tc.rows))
			}
			data := writeStream(t, h, tc.chunks, opts...)
			total := 0
			for _, n := range tc.chunks {
				total += n
			}
			want := testBatch(h, 0, total)

			rmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer rmem.AssertSize(t, 0)
			r, err := NewReader(bytes.NewReader(data), readerAllocator(rmem))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Header(); !reflect.DeepEqual(got, h) {
				t.Errorf("header %+v, want %+v", got, h)
			}
			seen := 0
			for r.Next() {
				b := r.Batch()
				n := b.Len()
				// Re-chunking: full batches, then the remainder.
				if wantN := min(rows, total-seen); n != wantN {
					t.Errorf("batch at row %d has %d rows, want %d", seen, n, wantN)
				}
				if !sameBatch(b, testBatch(h, seen, n)) {
					t.Errorf("batch at row %d differs from what was written", seen)
				}
				if c, ok := b.Column("linf"); tc.extra && (!ok || len(c.Float32) != n) {
					t.Errorf("Column(linf) = %v, %v", c, ok)
				}
				seen += n
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if seen != total {
				t.Errorf("read %d rows, want %d", seen, total)
			}
			r.Close()

			gh, all, err := ReadAll(bytes.NewReader(data), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gh, h) {
				t.Errorf("ReadAll header %+v, want %+v", gh, h)
			}
			if !sameBatch(all, want) {
				t.Errorf("ReadAll batch differs from what was written")
			}
			for i, c := range all.Extra {
				if c.set() != 1 || c.typ() != h.Extra[i].Type.values() {
					t.Errorf("ReadAll column %q has %d slices set", c.Name, c.set())
				}
			}
		})
	}
}

func TestReadAllLimit(t *testing.T) {
	h := testHeader(Float32, true)
	data := writeStream(t, h, []int{10}, WithBatchRows(3))
	for _, limit := range []int{1, 3, 4, 9, 10, 11} {
		_, b, err := ReadAll(bytes.NewReader(data), limit)
		if err != nil {
			t.Fatal(err)
		}
		want := testBatch(h, 0, min(limit, 10))
		if !sameBatch(b, want) {
			t.Errorf("ReadAll(limit %d) gave %d rows, not the first %d", limit, b.Len(), want.Len())
		}
	}
	if _, _, err := ReadAll(bytes.NewReader(data), -1); err == nil {
		t.Error("ReadAll(-1) succeeded")
	}
}

// TestBatchAliasing checks the documented lifetime: a batch's slices alias
// the reader's buffers and are replaced, not reused, by the next batch.
func TestBatchAliasing(t *testing.T) {
	h := testHeader(Uint8, false)
	data := writeStream(t, h, []int{4}, WithBatchRows(2))
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	first := r.Batch().Labels
	if !r.Next() {
		t.Fatal(r.Err())
	}
	if second := r.Batch().Labels; &first[0] == &second[0] || !slices.Equal(second, []int64{2, 3}) {
		t.Errorf("second batch labels %v", second)
	}
	if r.Next() || r.Err() != nil {
		t.Errorf("Next after the last batch: err %v", r.Err())
	}
}

func TestScaleAndFloat32Images(t *testing.T) {
	tests := []struct {
		name  string
		h     Header
		b     *Batch
		scale float32
		want  []float32
	}{
		{"uint8 with scale", Header{Elem: Uint8, Metadata: map[string]string{MetaPixelScale: "0.5"}},
			&Batch{Pixels: []uint8{0, 1, 255}}, 0.5, []float32{0, 0.5, 127.5}},
		{"uint8 default", Header{Elem: Uint8},
			&Batch{Pixels: []uint8{0, 51, 255}}, 1.0 / 255, []float32{0, 0.2, 1}},
		{"float32 default", Header{Elem: Float32},
			&Batch{Floats: []float32{0.25, 1}}, 1, []float32{0.25, 1}},
		{"float32 with scale", Header{Elem: Float32, Metadata: map[string]string{MetaPixelScale: "0.25"}},
			&Batch{Floats: []float32{2, 4}}, 0.25, []float32{0.5, 1}},
		{"invalid scale ignored", Header{Elem: Float32, Metadata: map[string]string{MetaPixelScale: "NaN"}},
			&Batch{Floats: []float32{2}}, 1, []float32{2}},
	}
	for _, tc := range tests {
		if got := tc.h.Scale(); got != tc.scale {
			t.Errorf("%s: Scale() = %v, want %v", tc.name, got, tc.scale)
		}
		dst := []float32{9, 9, 9, 9, 9}
		got := tc.h.Float32Images(tc.b, dst)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		if &got[0] != &dst[0] {
			t.Errorf("%s: result does not reuse dst", tc.name)
		}
	}
}

func TestNewWriterRefuses(t *testing.T) {
	good := testHeader(Uint8, true)
	tests := []struct {
		name    string
		edit    func(h *Header)
		opt     WriterOption
		wantErr string
	}{
		{name: "no shape", edit: func(h *Header) { h.Shape = nil }, wantErr: "shape is empty"},
		{name: "zero dimension", edit: func(h *Header) { h.Shape = []int{1, 0, 2} }, wantErr: "below 1"},
		{name: "huge shape", edit: func(h *Header) { h.Shape = []int{1 << 20, 1 << 20} }, wantErr: "exceeds"},
		{name: "no element type", edit: func(h *Header) { h.Elem = 0 }, wantErr: "element type"},
		{name: "extra named label", edit: func(h *Header) { h.Extra[0].Name = "label" }, wantErr: "twice"},
		{name: "duplicate extra", edit: func(h *Header) { h.Extra[1].Name = h.Extra[0].Name }, wantErr: "twice"},
		{name: "unnamed extra", edit: func(h *Header) { h.Extra[0].Name = "" }, wantErr: "empty name"},
		{name: "extra type", edit: func(h *Header) { h.Extra[0].Type = 0 }, wantErr: "want int64"},
		{name: "bad scale", edit: func(h *Header) { h.Metadata[MetaPixelScale] = "-1" }, wantErr: "positive"},
		{name: "bad classes", edit: func(h *Header) { h.Metadata[MetaClasses] = "a,b" }, wantErr: "JSON array"},
		{name: "batch rows", opt: WithBatchRows(0), wantErr: "below 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := good.clone()
			if tc.edit != nil {
				tc.edit(&h)
			}
			var opts []WriterOption
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			_, err := NewWriter(io.Discard, h, opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	h := testHeader(Uint8, true)
	tests := []struct {
		name    string
		edit    func(b *Batch)
		wantErr string
	}{
		{"short pixels", func(b *Batch) { b.Pixels = b.Pixels[1:] }, "pixels"},
		{"float images", func(b *Batch) { b.Floats = []float32{1} }, "float32 images"},
		{"missing column", func(b *Batch) { b.Extra = b.Extra[:2] }, "extra columns"},
		{"renamed column", func(b *Batch) { b.Extra[0].Name = "x" }, "header says"},
		{"wrong type", func(b *Batch) { b.Extra[1].Float64, b.Extra[1].Float32 = []float64{1, 2, 3}, nil }, "float32 values"},
		{"two slices", func(b *Batch) { b.Extra[0].Float32 = []float32{1, 2, 3} }, "int64 values"},
		{"short column", func(b *Batch) { b.Extra[2].Float64 = b.Extra[2].Float64[:2] }, "2 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWriter(io.Discard, h)
			if err != nil {
				t.Fatal(err)
			}
			b := testBatch(h, 0, 3)
			tc.edit(b)
			if err := w.Write(b); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			// A refused batch writes nothing and leaves the writer usable.
			if err := w.Write(testBatch(h, 0, 3)); err != nil {
				t.Errorf("write after a refused batch: %v", err)
			}
		})
	}
	w, err := NewWriter(io.Discard, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(testBatch(h, 0, 1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterPropagatesErrors(t *testing.T) {
	h := testHeader(Uint8, false)
	w, err := NewWriter(&failWriter{n: 100}, h, WithBatchRows(2))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(testBatch(h, 0, 4))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write err = %v, want disk full", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write succeeded")
	}
}
