package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func sample() *File {
	return &File{
		Metadata: map[string]string{KeyFormat: "pt", KeyModel: `{"arch":"mlp"}`},
		Tensors: []Tensor{
			Float32("fc1.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
			Float32("fc1.bias", []int{2}, []float32{-1, 0.5}),
			Int64("bn.num_batches_tracked", []int{}, []int64{7}),
		},
	}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	b := encode(t, want)
	if hlen := binary.LittleEndian.Uint64(b); hlen%8 != 0 {
		t.Errorf("header of %d bytes, want a multiple of 8", hlen)
	}
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Metadata) != 2 || got.Metadata[KeyModel] != want.Metadata[KeyModel] {
		t.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for i, w := range want.Tensors {
		g := got.Tensors[i]
		if g.Name != w.Name || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("tensor %d: %s %s %v %d bytes, want %s %s %v %d bytes", i, g.Name, g.DType, g.Shape, len(g.Data), w.Name, w.DType, w.Shape, len(w.Data))
		}
	}
	v, err := got.Tensors[0].Float32s()
	if err != nil || !slices.Equal(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("Float32s = %v, %v", v, err)
	}
	n, err := got.Tensors[2].Int64s()
	if err != nil || !slices.Equal(n, []int64{7}) {
		t.Errorf("Int64s = %v, %v", n, err)
	}
	if !bytes.Equal(encode(t, got), b) {
		t.Error("re-encoding a decoded file changed its bytes")
	}
}

// TestReferenceBytes decodes bytes laid out as Python's safetensors writes
// them (tensors sorted by name, offsets out of header order, no metadata).
func TestReferenceBytes(t *testing.T) {
	header := `{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	binary.Write(&b, binary.LittleEndian, 2.5)
	binary.Write(&b, binary.LittleEndian, float32(-3))
	f, err := Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	bt, _ := f.Tensor("b")
	av, err1 := a.Float32s()
	bv, err2 := bt.Float32s()
	if err1 != nil || err2 != nil || !slices.Equal(av, []float32{2.5}) || !slices.Equal(bv, []float32{-3}) || f.Tensors[0].Name != "b" {
		t.Errorf("a=%v b=%v (%v, %v), order %s first; want 2.5, -3, b first", av, bv, err1, err2, f.Tensors[0].Name)
	}
}

func TestHalfPrecision(t *testing.T) {
	tests := []struct {
		dt   DType
		bits uint16
		want float32
	}{
		{F16, 0x3c00, 1},
		{F16, 0xc000, -2},
		{F16, 0x0001, 1.0 / (1 << 24)}, // smallest subnormal
		{F16, 0x7bff, 65504},
		{F16, 0x8000, float32(math.Copysign(0, -1))},
		{F16, 0x7c00, float32(math.Inf(1))},
		{BF16, 0x3f80, 1},
		{BF16, 0xc0a0, -5},
	}
	for _, tt := range tests {
		b := binary.LittleEndian.AppendUint16(nil, tt.bits)
		v, err := Tensor{Name: "h", DType: tt.dt, Shape: []int{1}, Data: b}.Float32s()
		if err != nil || math.Float32bits(v[0]) != math.Float32bits(tt.want) {
			t.Errorf("%s %#04x = %v (%v), want %v", tt.dt, tt.bits, v, err, tt.want)
		}
	}
	if _, err := (Tensor{Name: "n", DType: I64, Data: make([]byte, 8)}).Float32s(); err == nil {
		t.Error("Float32s of an I64 tensor succeeded")
	}
}

func withHeader(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestRefusals(t *testing.T) {
	valid := encode(t, sample())
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"short header length", valid[:5], "shorter than"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<40), "header length 1099511627776 exceeds"},
		{"truncated header", valid[:20], "truncated: header"},
		{"truncated data", valid[:len(valid)-1], "truncated: tensor data"},
		{"trailing bytes", append(slices.Clone(valid), 0), "bytes after"},
		{"not an object", withHeader(`[1,2]`, 0), "not a JSON object"},
		{"bad JSON", withHeader(`{"a":`, 0), "header"},
		{"duplicate name", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `"a" named twice`},
		{"unknown dtype", withHeader(`{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, 1), `unknown dtype "F8"`},
		{"unknown field", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), "unknown field"},
		{"missing shape", withHeader(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, 1), "want dtype, shape and two data_offsets"},
		{"three offsets", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, 1), "two data_offsets"},
		{"negative dim", withHeader(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1), "dimension -1 out of range"},
		{"overflowing shape", withHeader(`{"a":{"dtype":"F64","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}`, 8), "overflows"},
		{"size mismatch", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8"},
		{"reversed offsets", withHeader(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4), "data offsets [4 0]"},
		{"hole", withHeader(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "leaves a hole"},
		{"overlap", withHeader(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "overlaps"},
		{"metadata not strings", withHeader(`{"__metadata__":{"a":1}}`, 0), "map names to strings"},
		{"huge declared data", withHeader(`{"a":{"dtype":"F32","shape":[1073741824,2],"data_offsets":[0,8589934592]}}`, 0), "more than the limit"},
		{"data after object", withHeader(`{} {}`, 0), "data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %v, want an error mentioning %q", err, tt.want)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v is neither ErrCorrupt nor ErrTooLarge", err)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"duplicate", &File{Tensors: []Tensor{Float32("a", []int{1}, []float32{1}), Float32("a", []int{1}, []float32{1})}}, "named twice"},
		{"metadata name", &File{Tensors: []Tensor{Float32(metadataKey, []int{1}, []float32{1})}}, "tensor named"},
		{"short data", &File{Tensors: []Tensor{Float32("a", []int{2}, []float32{1})}}, "data has 4"},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "a", DType: "X", Shape: []int{1}, Data: []byte{1}}}}, "unknown dtype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Encode(&bytes.Buffer{}, tt.f)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and what
// it accepts must encode and decode to the same tensors.
func FuzzDecode(f *testing.F) {
	valid := encode(f, sample())
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(withHeader(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2))
	f.Add(withHeader(`{}`, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(bytes.NewReader(data), WithMaxSize(1<<20))
		if err != nil {
			return
		}
		again, err := Decode(bytes.NewReader(encode(t, got)))
		if err != nil {
			t.Fatalf("re-decoding an accepted file: %v", err)
		}
		for i, tn := range got.Tensors {
			if a := again.Tensors[i]; a.Name != tn.Name || !bytes.Equal(a.Data, tn.Data) {
				t.Fatalf("tensor %s changed in a round trip", tn.Name)
			}
		}
	})
}
