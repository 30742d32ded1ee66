package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
)

func sample() *Checkpoint {
	return &Checkpoint{
		Config: json.RawMessage(`{"arch":"madry-cnn","lr":0.001,"sgn":true}`),
		Tensors: []Tensor{
			{Name: "step", Shape: []int{}, Data: []float32{1234}},
			{Name: "conv1.w", Shape: []int{2, 1, 2, 2}, Data: []float32{1, -2, 3.5, 0, 1e-30, -1e30, 7, 8}},
			{Name: "conv1.b", Shape: []int{2}, Data: []float32{float32(math.NaN()), float32(math.Inf(-1))}},
			{Name: "empty", Shape: []int{0, 3}, Data: []float32{}},
			{Name: "fc.w", Shape: []int{3, 2}, Data: []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}},
		},
		Sections: map[string][]byte{
			"optimizer": []byte("adam state bytes \x00\x01\x02"),
			"rng":       {0xde, 0xad, 0xbe, 0xef},
			"empty":     {},
		},
	}
}

func encodeBytes(t testing.TB, c *Checkpoint, opts ...Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, c, opts...); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// checkEqual compares checkpoints treating nil and empty alike and floats
// bit for bit, so that NaN survives the comparison.
func checkEqual(t testing.TB, got, want *Checkpoint) {
	t.Helper()
	if !bytes.Equal(got.Config, want.Config) {
		t.Errorf("config = %q, want %q", got.Config, want.Config)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for i, w := range want.Tensors {
		g := got.Tensors[i]
		if g.Name != w.Name || !equalInts(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Errorf("tensor %d = %q %v (%d values), want %q %v (%d values)", i, g.Name, g.Shape, len(g.Data), w.Name, w.Shape, len(w.Data))
			continue
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Errorf("tensor %q[%d] = %v, want %v", w.Name, j, g.Data[j], w.Data[j])
			}
		}
	}
	if len(got.Sections) != len(want.Sections) {
		t.Errorf("%d sections, want %d", len(got.Sections), len(want.Sections))
	}
	for name, w := range want.Sections {
		g, ok := got.Sections[name]
		if !ok || !bytes.Equal(g, w) {
			t.Errorf("section %q = %q (present %v), want %q", name, g, ok, w)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    *Checkpoint
	}{
		{"empty", &Checkpoint{}},
		{"config only", &Checkpoint{Config: json.RawMessage(`[1,2,3]`)}},
		{"sample", sample()},
		{"scalar", &Checkpoint{Tensors: []Tensor{{Name: "s", Data: []float32{-0.5}}}}},
		{"zero size", &Checkpoint{Tensors: []Tensor{{Name: "z", Shape: []int{4, 0, 1 << 40}}}}},
		{"unicode names", &Checkpoint{
			Tensors:  []Tensor{{Name: "Ω/β.weight", Shape: []int{1}, Data: []float32{2}}},
			Sections: map[string][]byte{"état": []byte("x")},
		}},
		{"multi block", &Checkpoint{Tensors: []Tensor{ramp("big", 200_000)}}},
		{"larger than the match window", &Checkpoint{Tensors: []Tensor{ramp("huge", windowSize/4+1000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(encodeBytes(t, tt.c)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkEqual(t, got, tt.c)
		})
	}
}

func ramp(name string, n int) Tensor {
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(math.Sin(float64(i) * 0.37))
	}
	return Tensor{Name: name, Shape: []int{n}, Data: data}
}

func TestTensorLookup(t *testing.T) {
	c := sample()
	for _, want := range c.Tensors {
		got, ok := c.Tensor(want.Name)
		if !ok || got.Name != want.Name || !equalInts(got.Shape, want.Shape) {
			t.Errorf("Tensor(%q) = %q %v, %v", want.Name, got.Name, got.Shape, ok)
		}
	}
	if _, ok := c.Tensor("missing"); ok {
		t.Error(`Tensor("missing") found something`)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	c := sample()
	for i := range 20 {
		c.Sections[string(rune('a'+i))] = []byte{byte(i)}
	}
	first := encodeBytes(t, c)
	for range 5 {
		// A copy of the map built in another order must encode the same.
		c2 := *c
		c2.Sections = map[string][]byte{}
		for k, v := range c.Sections {
			c2.Sections[k] = v
		}
		if again := encodeBytes(t, &c2); !bytes.Equal(first, again) {
			t.Fatal("encoding the same checkpoint twice gave different bytes")
		}
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	tests := []struct {
		name string
		c    Checkpoint
		opts []Option
		want string
	}{
		{"empty tensor name", Checkpoint{Tensors: []Tensor{{Shape: []int{1}, Data: []float32{1}}}}, nil, "tensor with empty name"},
		{"duplicate tensor", Checkpoint{Tensors: []Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{2}}}}, nil, `duplicate tensor name "a"`},
		{"data too short", Checkpoint{Tensors: []Tensor{{Name: "w", Shape: []int{2, 3}, Data: make([]float32, 5)}}}, nil, `tensor "w": shape [2 3] has 6 elements but data has 5`},
		{"scalar without data", Checkpoint{Tensors: []Tensor{{Name: "s"}}}, nil, "has 1 elements but data has 0"},
		{"negative dim", Checkpoint{Tensors: []Tensor{{Name: "n", Shape: []int{-1, -1}, Data: []float32{1}}}}, nil, "negative dimension"},
		{"overflow", Checkpoint{Tensors: []Tensor{{Name: "o", Shape: []int{1 << 40, 1 << 40}}}}, nil, "overflows"},
		{"rank", Checkpoint{Tensors: []Tensor{{Name: "r", Shape: make([]int, maxRank+1)}}}, nil, "rank 65"},
		{"bad utf8", Checkpoint{Tensors: []Tensor{{Name: "\xff", Data: []float32{1}}}}, nil, "not valid UTF-8"},
		{"long name", Checkpoint{Tensors: []Tensor{{Name: strings.Repeat("x", maxNameLen+1), Data: []float32{1}}}}, nil, "longer than 4096"},
		{"empty section name", Checkpoint{Sections: map[string][]byte{"": nil}}, nil, "section with empty name"},
		{"bad config", Checkpoint{Config: json.RawMessage(`{"a":`)}, nil, "config is not valid JSON"},
		{"over limit", *sample(), []Option{WithMaxSize(100)}, "exceeds the limit of 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, &tt.c, tt.opts...)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode error = %v, want ErrInvalid containing %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestEncodeWriterError(t *testing.T) {
	err := Encode(failWriter{}, sample())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Encode to a failing writer: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDecodeRefusesTruncation(t *testing.T) {
	data := encodeBytes(t, sample())
	for n := range len(data) {
		_, err := Decode(bytes.NewReader(data[:n]))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotCheckpoint) {
			t.Fatalf("Decode of the first %d of %d bytes: %v, want a corruption error", n, len(data), err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans lines: %q", err)
		}
	}
}

func TestDecodeRefusesByteFlips(t *testing.T) {
	data := encodeBytes(t, sample())
	damaged := make([]byte, len(data))
	for i := range data {
		for mask := 1; mask < 256; mask++ {
			copy(damaged, data)
			damaged[i] ^= byte(mask)
			if _, err := Decode(bytes.NewReader(damaged)); err == nil {
				t.Fatalf("Decode accepted byte %d xor %#x", i, mask)
			}
		}
	}
}

func TestDecodeRefusesTrailingData(t *testing.T) {
	data := append(encodeBytes(t, sample()), 0)
	_, err := Decode(bytes.NewReader(data))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "after the end of the checkpoint") {
		t.Fatalf("Decode with a trailing byte: %v", err)
	}
}

// withHeader returns a copy of a valid file with header fields overwritten.
func withHeader(t *testing.T, edit func(h *header)) []byte {
	data := encodeBytes(t, sample())
	h := unmarshalHeader(data)
	edit(&h)
	return append(h.marshal(), data[headerSize:]...)
}

func TestDecodeHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		opts   []Option
		target error
		want   string
	}{
		{"empty", nil, nil, ErrNotCheckpoint, "not an sgn checkpoint: empty input"},
		{"text", []byte(`{"not":"a checkpoint"}`), nil, ErrNotCheckpoint, "bad magic"},
		{"short garbage", []byte("PK"), nil, ErrNotCheckpoint, "bad magic"},
		{"magic prefix only", []byte("SGNCK"), nil, ErrCorrupt, "truncated header (5 of 64 bytes)"},
		{"version", withHeader(t, func(h *header) { h.version = 7 }), nil, ErrUnsupportedVersion, "unsupported checkpoint format version 7"},
		{"over limit", encodeBytes(t, sample()), []Option{WithMaxSize(64)}, ErrTooLarge, "exceeds the limit of 64 bytes"},
		{"frame too long", withHeader(t, func(h *header) { h.frameLen = 1 << 40 }), nil, ErrCorrupt, "impossible for a payload"},
		{"frame shorter", withHeader(t, func(h *header) { h.frameLen -= 2 }), nil, ErrCorrupt, "after the end of the checkpoint"},
		{"payload length", withHeader(t, func(h *header) { h.payloadLen++ }), nil, ErrCorrupt, ""},
		{"crc", withHeader(t, func(h *header) { h.frameCRC ^= 1 }), nil, ErrCorrupt, "compressed data checksum mismatch"},
		{"sha", withHeader(t, func(h *header) { h.payloadSum[31] ^= 1 }), nil, ErrCorrupt, "payload checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.data), tt.opts...)
			if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want %v containing %q", err, tt.target, tt.want)
			}
		})
	}
}

// TestDecodeHugeClaimAllocatesLittle checks that declared sizes are not
// trusted: a header claiming 1 TiB must be refused without allocating
// anything near that, with or without a limit that admits it.
// TestDecodeInputSize checks that WithInputSize is only a hint: a stream
// that hides its length decodes the same whatever size it is said to be.
func TestDecodeInputSize(t *testing.T) {
	want := &Checkpoint{Tensors: []Tensor{ramp("big", 200_000)}}
	data := encodeBytes(t, want)
	for _, size := range []int64{0, 1, headerSize, int64(len(data)) - 1, int64(len(data)), 100 * int64(len(data))} {
		got, err := Decode(struct{ io.Reader }{bytes.NewReader(data)}, WithInputSize(size))
		if err != nil {
			t.Fatalf("input size %d: %v", size, err)
		}
		checkEqual(t, got, want)
	}
}

func TestDecodeHugeClaimAllocatesLittle(t *testing.T) {
	const tib = 1 << 40
	huge := header{version: formatVersion, payloadLen: tib, frameLen: tib}
	data := append(huge.marshal(), "a few bytes of frame"...)
	tests := []struct {
		name   string
		opts   []Option
		target error
	}{
		{"default limit", nil, ErrTooLarge},
		{"limit admits it", []Option{WithMaxSize(2 * tib)}, ErrCorrupt},
		{"limit admits it, input size told", []Option{WithMaxSize(2 * tib), WithInputSize(int64(len(data)))}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(bytes.NewReader(data), tt.opts...)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tt.target) {
				t.Fatalf("Decode error = %v, want %v", err, tt.target)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("Decode allocated %d bytes for a 1 TiB claim", n)
			}
		})
	}
}

// payloadBuilder writes payloads by hand, including malformed ones.
type payloadBuilder struct{ b []byte }

func (p *payloadBuilder) u32(v uint32) *payloadBuilder {
	p.b = binary.LittleEndian.AppendUint32(p.b, v)
	return p
}

func (p *payloadBuilder) u64(v uint64) *payloadBuilder {
	p.b = binary.LittleEndian.AppendUint64(p.b, v)
	return p
}

func (p *payloadBuilder) str(s string) *payloadBuilder {
	p.u32(uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}

func (p *payloadBuilder) raw(b ...byte) *payloadBuilder {
	p.b = append(p.b, b...)
	return p
}

// tensor writes a tensor record with the given dims and n float32 values.
func (p *payloadBuilder) tensor(name string, dims []int64, n int) *payloadBuilder {
	p.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		p.u64(uint64(d))
	}
	p.u64(4 * uint64(n))
	p.b = append(p.b, make([]byte, 4*n)...)
	return p
}

func newPayload(config string) *payloadBuilder {
	p := &payloadBuilder{}
	return p.u64(uint64(len(config))).raw([]byte(config)...)
}

func sealed(t testing.TB, payload []byte) []byte {
	t.Helper()
	hdr, frame, err := seal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return append(hdr, frame...)
}

// TestDecodeMalformedPayload feeds payloads with valid checksums but broken
// structure, as a hostile file would.
func TestDecodeMalformedPayload(t *testing.T) {
	tests := []struct {
		name    string
		payload *payloadBuilder
		want    string // "" means the payload is valid
	}{
		{"valid", newPayload(`{}`).u32(2).tensor("a", []int64{2, 3}, 6).tensor("b", nil, 1).u32(1).str("rng").u64(2).raw(1, 2), ""},
		{"empty payload", &payloadBuilder{}, "config length of 8 bytes runs past the end"},
		{"config past end", (&payloadBuilder{}).u64(10).raw(1, 2), "config of 10 bytes runs past the end"},
		{"config length absurd", (&payloadBuilder{}).u64(math.MaxUint64), "config of 18446744073709551615 bytes runs past the end"},
		{"config not json", newPayload(`{"a"`).u32(0).u32(0), "config is not valid JSON"},
		{"tensor count absurd", newPayload("").u32(math.MaxUint32), "runs past the end"},
		{"shape mismatch", newPayload("").u32(1).str("conv1.w").u32(2).u64(2).u64(3).u64(20).raw(make([]byte, 20)...).u32(0),
			`tensor "conv1.w" declares shape [2 3] = 6 elements but has 20 bytes`},
		{"data past end", newPayload("").u32(1).str("w").u32(1).u64(4).u64(16).raw(1, 2, 3), `tensor "w" data of 16 bytes runs past the end`},
		{"duplicate tensor", newPayload("").u32(2).tensor("a", nil, 1).tensor("a", nil, 1).u32(0), `duplicate tensor name "a"`},
		{"empty tensor name", newPayload("").u32(1).tensor("", nil, 1).u32(0), "tensor with empty name"},
		{"name length absurd", newPayload("").u32(1).u32(1 << 30), "tensor name length 1073741824 exceeds 4096"},
		{"negative dim", newPayload("").u32(1).tensor("n", []int64{-3}, 0).u32(0), `tensor "n" has dimension -3 out of range`},
		{"overflowing dims", newPayload("").u32(1).tensor("o", []int64{1 << 40, 1 << 40}, 0).u32(0), `tensor "o": shape [1099511627776 1099511627776] overflows`},
		{"huge dims", newPayload("").u32(1).tensor("h", []int64{1 << 62}, 0).u32(0), "declares shape [4611686018427387904] = 4611686018427387904 elements but has 0 bytes"},
		{"rank absurd", newPayload("").u32(1).str("r").u32(1 << 20), `tensor "r" has rank 1048576, more than 64`},
		{"section past end", newPayload("").u32(0).u32(1).str("optimizer").u64(100).raw(1, 2, 3), `section "optimizer" of 100 bytes runs past the end`},
		{"section count absurd", newPayload("").u32(0).u32(math.MaxUint32).str("x").u64(0), "runs past the end"},
		{"duplicate section", newPayload("").u32(0).u32(2).str("rng").u64(0).str("rng").u64(0), `duplicate section name "rng"`},
		{"trailing bytes", newPayload("").u32(0).u32(0).raw(0), "1 unexpected bytes after the last section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(bytes.NewReader(sealed(t, tt.payload.b)))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if len(c.Tensors) != 2 || len(c.Sections) != 1 {
					t.Fatalf("decoded %d tensors and %d sections, want 2 and 1", len(c.Tensors), len(c.Sections))
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want ErrCorrupt containing %q", err, tt.want)
			}
		})
	}
}

// TestDecodeMalformedFrame checks the zstd frame checks with frames whose
// CRC is valid, as a hostile file would have.
func TestDecodeMalformedFrame(t *testing.T) {
	payload := marshalPayload(&Checkpoint{}, 16)
	_, frame, err := seal(payload)
	if err != nil {
		t.Fatal(err)
	}
	skippable := append([]byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}, frame...)
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"hand-built valid", zstdFrame(0x20, []byte{16}, rleBlock(16)), ""},
		{"two frames", append(append([]byte{}, frame...), frame...), "trailing garbage after the zstd frame"},
		{"garbage after frame", append(append([]byte{}, frame...), 0), "1 bytes of trailing garbage after the zstd frame"},
		{"skippable", skippable, "skippable zstd frame"},
		{"not zstd", []byte("definitely not zstd"), "zstd frame header"},
		{"short", frame[:3], "truncated zstd frame header"},
		{"no content size", zstdFrame(0x00, []byte{0x00}, rleBlock(16)), "does not declare its content size"},
		{"content size differs", zstdFrame(0x20, []byte{17}, rleBlock(17)), "zstd frame declares 17 bytes, header declares 16"},
		{"dictionary", zstdFrame(0x21, []byte{9, 16}, rleBlock(16)), "needs dictionary 9"},
		{"bomb", zstdFrame(0x20, []byte{16}, rleBlock(100_000)), "decode to more than the declared 16 bytes"},
		{"reserved block", zstdFrame(0x20, []byte{16}, []byte{7, 0, 0}), "reserved zstd block type"},
		{"block too big", zstdFrame(0x20, []byte{16}, blockHeader(true, 0, 200_000)), "zstd block of 200000 bytes exceeds"},
		{"block cut", zstdFrame(0x20, []byte{16}, blockHeader(true, 0, 16), []byte{1, 2}), "truncated zstd block"},
		{"no last block", zstdFrame(0x20, []byte{16}, blockHeader(false, 0, 0)), "truncated zstd block header"},
		{"checksum cut", zstdFrame(0x24, []byte{16}, rleBlock(16), []byte{1, 2}), "truncated zstd frame checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header{
				version:    formatVersion,
				payloadLen: uint64(len(payload)),
				frameLen:   uint64(len(tt.frame)),
				frameCRC:   crcOf(tt.frame),
				payloadSum: sha256.Sum256(payload),
			}
			data := append(h.marshal(), tt.frame...)
			_, err := Decode(bytes.NewReader(data))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want ErrCorrupt containing %q", err, tt.want)
			}
		})
	}
}

func TestIsCheckpoint(t *testing.T) {
	valid := encodeBytes(t, sample())
	tests := []struct {
		name   string
		prefix []byte
		want   bool
	}{
		{"whole file", valid, true},
		{"magic", valid[:8], true},
		{"too short", valid[:7], false},
		{"empty", nil, false},
		{"other magic", []byte("SGNCKPT\x01rest"), false},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}, false},
	}
	for _, tt := range tests {
		if got := IsCheckpoint(tt.prefix); got != tt.want {
			t.Errorf("%s: IsCheckpoint = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// zstdFrame builds a frame from a frame header descriptor, the header
// fields after it and the blocks.
func zstdFrame(descriptor byte, fields []byte, blocks ...[]byte) []byte {
	f := append([]byte{0x28, 0xb5, 0x2f, 0xfd, descriptor}, fields...)
	for _, b := range blocks {
		f = append(f, b...)
	}
	return f
}

func blockHeader(last bool, typ, size uint32) []byte {
	bh := typ<<1 | size<<3
	if last {
		bh |= 1
	}
	return []byte{byte(bh), byte(bh >> 8), byte(bh >> 16)}
}

// rleBlock is a last block repeating one byte n times.
func rleBlock(n uint32) []byte { return append(blockHeader(true, 1, n), 0) }

func TestDecodeReadError(t *testing.T) {
	broken := errors.New("device gone")
	data := encodeBytes(t, sample())
	tests := []struct {
		name string
		r    io.Reader
		want string
	}{
		{"in header", io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(broken)), "read checkpoint header: device gone"},
		{"in data", io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(broken)), "read checkpoint data: device gone"},
		{"after data", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(broken)), "read checkpoint data: device gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.r)
			if !errors.Is(err, broken) || err.Error() != tt.want {
				t.Fatalf("Decode error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestWeightsSum checks the digest against one computed independently from
// the encoded file's payload (the bytes between the configuration and the
// sections), and that it follows the weights and nothing else.
func TestWeightsSum(t *testing.T) {
	c := sample()
	file := encodeBytes(t, c)
	payload := decompressPayload(t, file)
	configLen := binary.LittleEndian.Uint64(payload)
	start := 8 + int(configLen)
	end := start + 4
	for range c.Tensors {
		nameLen := int(binary.LittleEndian.Uint32(payload[end:]))
		end += 4 + nameLen
		rank := int(binary.LittleEndian.Uint32(payload[end:]))
		end += 4 + 8*rank
		dataLen := int(binary.LittleEndian.Uint64(payload[end:]))
		end += 8 + dataLen
	}
	if got, want := c.WeightsSum(), sha256.Sum256(payload[start:end]); got != want {
		t.Fatalf("WeightsSum = %x, want the SHA-256 of the payload's tensors %x", got, want)
	}

	base := c.WeightsSum()
	for _, tc := range []struct {
		name string
		edit func(*Checkpoint)
		same bool
	}{
		{"other config", func(c *Checkpoint) { c.Config = json.RawMessage(`{"seconds":12.5}`) }, true},
		{"other sections", func(c *Checkpoint) { c.Sections = nil }, true},
		{"one value", func(c *Checkpoint) { c.Tensors[4].Data[5] = math.Nextafter32(0.6, 1) }, false},
		{"a shape", func(c *Checkpoint) { c.Tensors[4].Shape = []int{2, 3} }, false},
		{"a name", func(c *Checkpoint) { c.Tensors[4].Name = "fc.W" }, false},
		{"the order", func(c *Checkpoint) { c.Tensors[1], c.Tensors[4] = c.Tensors[4], c.Tensors[1] }, false},
	} {
		d := sample()
		tc.edit(d)
		if got := d.WeightsSum() == base; got != tc.same {
			t.Errorf("%s: same digest = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// decompressPayload is the payload of an encoded checkpoint, decoded with
// zstd directly rather than by Decode.
func decompressPayload(t testing.TB, file []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	payload, err := dec.DecodeAll(file[headerSize:], nil)
	if err != nil {
		t.Fatalf("decode the frame: %v", err)
	}
	return payload
}
