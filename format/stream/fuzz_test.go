package stream

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic or
// leak, must hand out batches consistent with the header, and whatever it
// accepts must survive a write and read unchanged. The seed corpus (valid
// streams, cut and damaged ones) runs with every go test.
func FuzzReader(f *testing.F) {
	var seeds [][]byte
	for _, zstd := range []bool{false, true} {
		for _, elem := range []ElemType{Uint8, Float32} {
			opts := []WriterOption{WithBatchRows(2)}
			if zstd {
				opts = append(opts, WithZstd())
			}
			seeds = append(seeds, writeStream(f, testHeader(elem, elem == Float32), []int{3}, opts...))
		}
	}
	for _, s := range seeds[:len(seeds):len(seeds)] {
		seeds = append(seeds, s[:len(s)-8], s[:len(s)/2])
		for _, at := range []int{len(s) / 3, len(s) / 2, len(s) - 20} {
			d := bytes.Clone(s)
			d[at] ^= 0x5A
			seeds = append(seeds, d)
		}
	}
	seeds = append(seeds, nil, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		r, err := NewReader(bytes.NewReader(data), WithMaxBatchBytes(1<<20), readerAllocator(mem))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		defer r.Close()
		h := r.Header()
		var all []*Batch
		for r.Next() {
			b := r.Batch()
			n, size := b.Len(), h.ExampleSize()
			if len(b.Pixels)+len(b.Floats) != n*size || len(b.Extra) != len(h.Extra) {
				t.Fatalf("batch of %d rows has %d+%d image values and %d extras for header %+v", n, len(b.Pixels), len(b.Floats), len(b.Extra), h)
			}
			for i, c := range b.Extra {
				if c.Len() != n*h.Extra[i].Size() || c.set() != 1 {
					t.Fatalf("column %q: %d values for %d rows", c.Name, c.Len(), n)
				}
			}
			all = append(all, cloneBatch(b))
		}
		if err := r.Err(); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		// What was accepted is written and read back unchanged.
		var buf bytes.Buffer
		w, err := NewWriter(&buf, h)
		if err != nil {
			t.Fatalf("accepted header %+v is refused by the writer: %v", h, err)
		}
		want := &Batch{}
		for _, b := range all {
			if err := w.Write(b); err != nil {
				t.Fatalf("accepted batch is refused by the writer: %v", err)
			}
			if want.Extra == nil {
				want.Extra = make([]Column, len(b.Extra))
				for i, c := range b.Extra {
					want.Extra[i].Name = c.Name
				}
			}
			appendRows(want, b)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		_, got, err := ReadAll(&buf, 0)
		if err != nil {
			t.Fatalf("rewritten stream: %v", err)
		}
		if len(all) > 0 && !sameBatch(got, want) {
			t.Fatal("rewritten stream differs")
		}
	})
}

func cloneBatch(b *Batch) *Batch {
	c := &Batch{
		Pixels: bytes.Clone(b.Pixels),
		Floats: append([]float32(nil), b.Floats...),
		Labels: append([]int64(nil), b.Labels...),
	}
	for _, col := range b.Extra {
		d := Column{Name: col.Name}
		if col.Int64 != nil {
			d.Int64 = append([]int64{}, col.Int64...)
		}
		if col.Float32 != nil {
			d.Float32 = append([]float32{}, col.Float32...)
		}
		if col.Float64 != nil {
			d.Float64 = append([]float64{}, col.Float64...)
		}
		c.Extra = append(c.Extra, d)
	}
	return c
}
