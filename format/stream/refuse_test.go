package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// column describes one column of a hand-built record batch.
type column struct {
	field arrow.Field
	build func(b array.Builder) // appends the rows
}

// ipcStream writes columns with arrow-go's own ipc writer, bypassing this
// package's checks, as another producer might.
func ipcStream(t *testing.T, md map[string]string, opts []ipc.Option, cols ...column) []byte {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	var keys, vals []string
	for k, v := range md {
		keys, vals = append(keys, k), append(vals, v)
	}
	meta := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema(fields, &meta)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	for i, c := range cols {
		c.build(rb.Field(i))
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, append(opts, ipc.WithSchema(schema))...)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tensorField(t *testing.T, value arrow.DataType, shape ...int) arrow.Field {
	t.Helper()
	tt, err := NewFixedShapeTensorType(value, shape, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return arrow.Field{Name: ImageColumn, Type: tt}
}

// images appends rows of size elements: valid ones, one null tensor, or
// one tensor with a null element.
func images(rows, size int, nullTensor, nullElem bool) func(array.Builder) {
	return func(b array.Builder) {
		lb := b.(*array.ExtensionBuilder).StorageBuilder().(*array.FixedSizeListBuilder)
		vb := lb.ValueBuilder()
		for r := range rows {
			if nullTensor && r == 1 {
				lb.AppendNull() // also appends size empty elements
				continue
			}
			lb.Append(true)
			for e := range size {
				if nullElem && r == 0 && e == 0 {
					vb.AppendNull()
					continue
				}
				switch vb := vb.(type) {
				case *array.Uint8Builder:
					vb.Append(uint8(e))
				case *array.Float32Builder:
					vb.Append(float32(e))
				case *array.Int16Builder:
					vb.Append(int16(e))
				}
			}
		}
	}
}

// plainImages appends to a FixedSizeList without the extension type.
func plainImages(rows, size int) func(array.Builder) {
	return func(b array.Builder) {
		lb := b.(*array.FixedSizeListBuilder)
		for range rows {
			lb.Append(true)
			for e := range size {
				lb.ValueBuilder().(*array.Uint8Builder).Append(uint8(e))
			}
		}
	}
}

func int64s(rows int, nullAt int) func(array.Builder) {
	return func(b array.Builder) {
		for r := range rows {
			if r == nullAt {
				b.AppendNull()
				continue
			}
			b.(*array.Int64Builder).Append(int64(r))
		}
	}
}

func anyValues(rows int) func(array.Builder) {
	return func(b array.Builder) {
		for range rows {
			b.AppendEmptyValue()
		}
	}
}

// readErr reads a whole stream and returns the first error.
func readErr(data []byte, opts ...ReaderOption) error {
	r, err := NewReader(bytes.NewReader(data), opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
	}
	return r.Err()
}

func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("stream accepted, want an error containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one containing %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	t.Logf("%v", err)
}

func TestReaderRefusesSchemas(t *testing.T) {
	u8 := arrow.PrimitiveTypes.Uint8
	label := arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64}
	good := func() column { return column{tensorField(t, u8, 2, 2), images(3, 4, false, false)} }
	// A FixedSizeList[5] claiming to hold 2x2 tensors.
	mismatch := arrow.Field{
		Name: ImageColumn,
		Type: arrow.FixedSizeListOf(5, u8),
		Metadata: arrow.NewMetadata(
			[]string{ipc.ExtensionTypeKeyName, ipc.ExtensionMetadataKeyName},
			[]string{FixedShapeTensorName, `{"shape":[2,2]}`}),
	}
	tests := []struct {
		name string
		cols []column
		md   map[string]string
		want string
	}{
		{"no image", []column{{label, int64s(3, -1)}}, nil, `no "image" column`},
		{"no label", []column{good()}, nil, `no "label" column`},
		{"plain list image", []column{{arrow.Field{Name: ImageColumn, Type: arrow.FixedSizeListOf(4, u8)}, plainImages(3, 4)}, {label, int64s(3, -1)}}, nil, "want arrow.fixed_shape_tensor"},
		{"int16 tensors", []column{{tensorField(t, arrow.PrimitiveTypes.Int16, 2, 2), images(3, 4, false, false)}, {label, int64s(3, -1)}}, nil, "want uint8 or float32"},
		{"shape mismatch", []column{{mismatch, plainImages(3, 5)}, {label, int64s(3, -1)}}, nil, "storage list size is 5"},
		{"float labels", []column{good(), {arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Float64}, anyValues(3)}}, nil, `"label" has type float64, want int64`},
		{"int32 labels", []column{good(), {arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int32}, anyValues(3)}}, nil, "want int64"},
		{"string extra", []column{good(), {label, int64s(3, -1)}, {arrow.Field{Name: "note", Type: arrow.BinaryTypes.String}, anyValues(3)}}, nil, `"note" has type utf8`},
		{"duplicate column", []column{good(), {label, int64s(3, -1)}, {label, int64s(3, -1)}}, nil, "appears twice"},
		{"bad pixel scale", []column{good(), {label, int64s(3, -1)}}, map[string]string{MetaPixelScale: "x"}, MetaPixelScale},
		{"bad classes", []column{good(), {label, int64s(3, -1)}}, map[string]string{MetaClasses: "[1,2]"}, MetaClasses},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(ipcStream(t, tc.md, nil, tc.cols...)))
			checkRefusal(t, err, tc.want)
		})
	}
}

// TestOtherProducers reads streams that another producer might write:
// columns in another order, nullable fields without nulls, LZ4 or zstd
// compression by arrow-go itself.
func TestOtherProducers(t *testing.T) {
	label := arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	score := arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	image := tensorField(t, arrow.PrimitiveTypes.Uint8, 1, 2, 2)
	image.Nullable = true
	scores := func(b array.Builder) {
		for r := range 300 {
			b.(*array.Float64Builder).Append(float64(r) / 4)
		}
	}
	for _, tc := range []struct {
		name string
		opts []ipc.Option
	}{{"plain", nil}, {"lz4", []ipc.Option{ipc.WithLZ4()}}, {"zstd", []ipc.Option{ipc.WithZstd()}}} {
		t.Run(tc.name, func(t *testing.T) {
			data := ipcStream(t, nil, tc.opts, column{score, scores}, column{label, int64s(300, -1)}, column{image, images(300, 4, false, false)})
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r, err := NewReader(bytes.NewReader(data), readerAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h := r.Header()
			if h.Elem != Uint8 || h.ExampleSize() != 4 || len(h.Extra) != 1 || !reflect.DeepEqual(h.Extra[0], ColumnSpec{Name: "score", Type: Float64Column}) {
				t.Fatalf("header %+v", h)
			}
			if !r.Next() {
				t.Fatal(r.Err())
			}
			b := r.Batch()
			if b.Len() != 300 || b.Pixels[4*299+3] != 3 || b.Labels[299] != 299 || b.Extra[0].Float64[299] != 299.0/4 {
				t.Errorf("batch: %d rows, last pixel %d, label %d, score %v", b.Len(), b.Pixels[4*299+3], b.Labels[299], b.Extra[0].Float64[299])
			}
			if r.Next() || r.Err() != nil {
				t.Errorf("after the only batch: err %v", r.Err())
			}
		})
	}
}

func TestReaderRefusesBatches(t *testing.T) {
	u8 := arrow.PrimitiveTypes.Uint8
	f32 := arrow.PrimitiveTypes.Float32
	label := arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64}
	tests := []struct {
		name string
		cols []column
		want string
	}{
		{"null tensor", []column{{tensorField(t, u8, 2, 2), images(3, 4, true, false)}, {label, int64s(3, -1)}}, `"image" has 1 null values`},
		{"null element", []column{{tensorField(t, f32, 4), images(3, 4, false, true)}, {label, int64s(3, -1)}}, `"image" has 1 null tensor elements`},
		{"null label", []column{{tensorField(t, u8, 2, 2), images(3, 4, false, false)}, {label, int64s(3, 2)}}, `"label" has 1 null values`},
		{"null extra", []column{{tensorField(t, u8, 2, 2), images(3, 4, false, false)}, {label, int64s(3, -1)}, {arrow.Field{Name: "adv_pred", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, int64s(3, 0)}}, `"adv_pred" has 1 null values`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkRefusal(t, readErr(ipcStream(t, nil, nil, tc.cols...)), tc.want)
		})
	}
}

// message locates one IPC message in a stream.
type message struct {
	start, meta, body int // offsets of the prefix, metadata and body
	info              ipcMessage
	root              fbTable
}

func messagesIn(t *testing.T, data []byte) []message {
	t.Helper()
	var msgs []message
	for pos := 0; ; {
		n := int(binary.LittleEndian.Uint32(data[pos+4:]))
		if n == 0 {
			return msgs
		}
		meta := data[pos+8 : pos+8+n]
		info, err := parseMessage(meta)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := fbRoot(meta)
		msgs = append(msgs, message{start: pos, meta: pos + 8, body: pos + 8 + n, info: info, root: root})
		pos += 8 + n + int(info.bodyLen)
	}
}

// recordBatch returns the record batch table of m.
func (m message) recordBatch(t *testing.T) fbTable {
	rb, ok, err := m.root.tableField(2)
	if !ok || err != nil {
		t.Fatalf("no record batch header: %v", err)
	}
	return rb
}

func TestReaderRefusesPatchedStreams(t *testing.T) {
	h := testHeader(Uint8, true)
	plain := writeStream(t, h, []int{5}, WithBatchRows(5))
	zstd := writeStream(t, h, []int{5}, WithBatchRows(5), WithZstd())
	// One float per example: 2^62 rows overflow a byte count as int64.
	tiny := writeStream(t, Header{Shape: []int{1}, Elem: Float32}, []int{2})
	tests := []struct {
		name  string
		data  []byte
		patch func(t *testing.T, data []byte, m message) // m is the record batch
		opts  []ReaderOption
		want  string
	}{
		{name: "small limit", data: plain, opts: []ReaderOption{WithMaxBatchBytes(64)}, want: "exceeds the limit of 64"},
		{name: "huge body", data: plain, want: "exceeds the limit", patch: func(t *testing.T, d []byte, m message) {
			p, _, _ := m.root.field(3, 8)
			binary.LittleEndian.PutUint64(d[m.meta+p:], 1<<62)
		}},
		{name: "negative body", data: plain, want: "negative body length", patch: func(t *testing.T, d []byte, m message) {
			p, _, _ := m.root.field(3, 8)
			binary.LittleEndian.PutUint64(d[m.meta+p:], 1<<63)
		}},
		{name: "label rows", data: plain, want: `"label" has 4 rows, want 5`, patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(1, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+2*16:], 4) // nodes: image, image elements, label
		}},
		{name: "extra rows", data: plain, want: `"l2" has 6 rows, want 5`, patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(1, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+5*16:], 6)
		}},
		{name: "image elements", data: plain, want: `"image" holds 29 elements for 5 tensors of 6`, patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(1, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+1*16:], 29)
		}},
		{name: "negative null count", data: plain, want: `"label" has -1 null values`, patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(1, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+2*16+8:], ^uint64(0))
		}},
		{name: "buffer outside body", data: plain, want: "outside", patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(2, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+4*16:], 1<<40) // label data offset
		}},
		{name: "short buffer", data: plain, want: `"label": buffer of 8 bytes, want 40`, patch: func(t *testing.T, d []byte, m message) {
			start, _, _ := m.recordBatch(t).structVector(2, 16)
			binary.LittleEndian.PutUint64(d[m.meta+start+4*16+8:], 8) // label data length
		}},
		{name: "huge row count", data: tiny, want: `"image": 4611686018427387904 values exceed the limit`, patch: func(t *testing.T, d []byte, m message) {
			rb := m.recordBatch(t)
			p, _, _ := rb.field(0, 8)
			binary.LittleEndian.PutUint64(d[m.meta+p:], 1<<62)
			start, n, _ := rb.structVector(1, 16)
			for i := range n {
				binary.LittleEndian.PutUint64(d[m.meta+start+16*i:], 1<<62)
			}
		}},
		{name: "metadata version", data: plain, want: "unsupported metadata version", patch: func(t *testing.T, d []byte, m message) {
			p, _, _ := m.root.field(0, 2)
			binary.LittleEndian.PutUint16(d[m.meta+p:], 2)
		}},
		{name: "huge uncompressed size", data: zstd, want: "declared uncompressed size", patch: func(t *testing.T, d []byte, m message) {
			b := m.info.buffers[4] // label data
			binary.LittleEndian.PutUint64(d[m.body+int(b.a):], 1<<50)
		}},
		{name: "short uncompressed size", data: zstd, want: `"label": buffer of 39 bytes, want 40`, patch: func(t *testing.T, d []byte, m message) {
			b := m.info.buffers[4]
			binary.LittleEndian.PutUint64(d[m.body+int(b.a):], 39)
		}},
		{name: "huge zstd window", data: zstd, want: "zstd window", patch: func(t *testing.T, d []byte, m message) {
			b := m.info.buffers[4]
			frame := d[m.body+int(b.a)+8:]
			if frame[4]&0x20 != 0 {
				t.Fatal("expected a frame with a window descriptor")
			}
			frame[5] = 0xF8 // 2^41 bytes
		}},
		{name: "not zstd", data: zstd, want: "not zstd", patch: func(t *testing.T, d []byte, m message) {
			b := m.info.buffers[4]
			d[m.body+int(b.a)+8] ^= 0xFF
		}},
		{name: "unknown codec", data: zstd, want: "unknown compression codec 7", patch: func(t *testing.T, d []byte, m message) {
			comp, _, _ := m.recordBatch(t).tableField(3)
			p, ok, _ := comp.field(0, 1)
			if !ok {
				t.Fatal("codec field absent")
			}
			d[m.meta+p] = 7
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Clone(tc.data)
			if tc.patch != nil {
				msgs := messagesIn(t, data)
				tc.patch(t, data, msgs[1])
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			checkRefusal(t, readErr(data, append(tc.opts, readerAllocator(mem))...), tc.want)
		})
	}
}

func TestReaderRefusesFraming(t *testing.T) {
	h := testHeader(Float32, false)
	data := writeStream(t, h, []int{4}, WithBatchRows(2))
	msgs := messagesIn(t, data)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"garbage", []byte("PAR1 this is not an arrow stream at all"), "not an Arrow IPC stream"},
		{"arrow file magic", []byte("ARROW1\x00\x00\xff\xff\xff\xff\x10\x00\x00\x00"), "Arrow IPC file"},
		{"batch first", data[msgs[1].start:], "starts with a RecordBatch message, want a Schema"},
		{"two schemas", append(bytes.Clone(data[:msgs[1].start]), data...), "unexpected Schema message"},
		{"huge metadata length", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "metadata length 2147483647 exceeds"},
		{"bad prefix after schema", append(bytes.Clone(data[:msgs[1].start]), 1, 2, 3, 4), "message starts with 01020304"},
		{"flatbuffer garbage", []byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4}, "malformed message metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkRefusal(t, readErr(tc.data), tc.want)
		})
	}
}

// TestTruncation cuts a stream at every byte: each cut must be an error
// wrapping io.ErrUnexpectedEOF, also a cut between two messages, since
// only the end-of-stream marker tells a complete stream from a cut one.
func TestTruncation(t *testing.T) {
	h := testHeader(Uint8, true)
	for _, zstd := range []bool{false, true} {
		opts := []WriterOption{WithBatchRows(2)}
		if zstd {
			opts = append(opts, WithZstd())
		}
		data := writeStream(t, h, []int{5}, opts...)
		if err := readErr(data); err != nil {
			t.Fatalf("complete stream: %v", err)
		}
		for cut := range len(data) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			err := readErr(data[:cut], readerAllocator(mem))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("zstd %v, cut at %d of %d: err = %v, want a truncation error", zstd, cut, len(data), err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			mem.AssertSize(t, 0)
		}
	}
}

// TestTrailingData documents that bytes after the end-of-stream marker
// are not read: the stream is complete at the marker.
func TestTrailingData(t *testing.T) {
	h := testHeader(Uint8, false)
	data := append(writeStream(t, h, []int{3}), "trailing"...)
	_, b, err := ReadAll(bytes.NewReader(data), 0)
	if err != nil || b.Len() != 3 {
		t.Fatalf("ReadAll: %d rows, err %v", b.Len(), err)
	}
}

// TestReaderRefusesSchemaMetadata checks the limits on what a schema
// message may declare before arrow-go allocates for it.
func TestReaderRefusesSchemaMetadata(t *testing.T) {
	label := column{arrow.Field{Name: LabelColumn, Type: arrow.PrimitiveTypes.Int64}, int64s(1, -1)}
	image := column{tensorField(t, arrow.PrimitiveTypes.Uint8, 1), images(1, 1, false, false)}

	// A schema whose fields vector claims 2^31-1 entries.
	data := ipcStream(t, nil, nil, image, label)
	m := messagesIn(t, data)[0]
	s, _, _ := m.root.tableField(2)
	p, _, _ := s.target(1)
	binary.LittleEndian.PutUint32(data[m.meta+p:], 0x7fffffff)
	checkRefusal(t, readErr(data), "malformed message metadata")

	// Fields nested nine deep.
	typ := arrow.DataType(arrow.PrimitiveTypes.Int64)
	for range 9 {
		typ = arrow.StructOf(arrow.Field{Name: "x", Type: typ})
	}
	deep := column{arrow.Field{Name: "deep", Type: typ}, anyValues(1)}
	checkRefusal(t, readErr(ipcStream(t, nil, nil, image, label, deep)), "deeper than 8")

	// More fields than any example stream needs.
	cols := []column{image, label}
	for i := range maxSchemaFields {
		cols = append(cols, column{arrow.Field{Name: fmt.Sprint("c", i), Type: arrow.PrimitiveTypes.Int64}, int64s(1, -1)})
	}
	checkRefusal(t, readErr(ipcStream(t, nil, nil, cols...)), "more than 1024 fields")
}
