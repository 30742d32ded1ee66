package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// WithMaxRows reads every stream whose record batches have at most that
// many rows, whoever wrote it, and lowers the byte limit to what they need.
func TestMaxRowsReadsItsRows(t *testing.T) {
	label := arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	image := tensorField(t, arrow.PrimitiveTypes.Uint8, 1, 2, 2)
	streams := map[string][]byte{}
	for _, elem := range []ElemType{Uint8, Float32} {
		for _, rows := range []int{1, 7, 256} {
			for _, zstd := range []bool{false, true} {
				opts := []WriterOption{WithBatchRows(rows)}
				if zstd {
					opts = append(opts, WithZstd())
				}
				streams[fmt.Sprintf("%v rows %d zstd %v", elem, rows, zstd)] = writeStream(t, testHeader(elem, true), []int{rows, rows}, opts...)
			}
		}
	}
	for name, opt := range map[string][]ipc.Option{"plain": nil, "lz4": {ipc.WithLZ4()}, "zstd": {ipc.WithZstd()}} {
		streams["arrow-go "+name] = ipcStream(t, nil, opt, column{label, int64s(256, -1)}, column{image, images(256, 4, false, false)})
	}
	for name, data := range streams {
		r, err := NewReader(bytes.NewReader(data), WithMaxRows(256))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for r.Next() {
		}
		if err := r.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		r.Close()
	}
}

func TestMaxRowsRefuses(t *testing.T) {
	h := Header{Shape: []int{1, 28, 28}, Elem: Uint8}
	// One compressed record batch of 20,000 zero images (15 MB) in a few
	// kilobytes.
	b := &Batch{Pixels: make([]uint8, 20000*784), Labels: make([]int64, 20000)}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, WithBatchRows(20000), WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	big := buf.Bytes()
	small := writeStream(t, testHeader(Uint8, true), []int{5}, WithBatchRows(5), WithZstd())
	lying := bytes.Clone(small)
	m := messagesIn(t, lying)[1]
	binary.LittleEndian.PutUint64(lying[m.body+int(m.info.buffers[4].a):], 1<<24) // label data: 16 MiB
	for _, tc := range []struct {
		name string
		data []byte
		rows int
		want string
	}{
		{"too many rows", big, 256, "20000 rows, more than the 256 this reader takes in one record batch"},
		{"uncompressed size beyond the rows", lying, 5, `column "label": declared uncompressed size 16777216 exceeds the limit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := readErr(tc.data, WithMaxRows(tc.rows))
			runtime.ReadMemStats(&after)
			checkRefusal(t, err, tc.want)
			if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
				t.Errorf("refusing a %d-byte stream allocated %d bytes", len(tc.data), n)
			}
		})
	}
	if err := readErr(big); err != nil {
		t.Errorf("without WithMaxRows: %v", err)
	}
}
