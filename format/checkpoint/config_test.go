package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// zeroBomb returns a checkpoint whose payload is config, with its length,
// followed by zeros up to size bytes, stored as one raw block and then RLE
// blocks: a few bytes per 128 KiB. Its CRC is valid; its SHA-256 is not.
func zeroBomb(config []byte, size uint64) []byte {
	return bomb(append(binary.LittleEndian.AppendUint64(nil, uint64(len(config))), config...), size)
}

// bomb is zeroBomb with the payload's first bytes given whole.
func bomb(prefix []byte, size uint64) []byte {
	if size < uint64(len(prefix)) {
		panic("bomb: payload shorter than its prefix")
	}
	frame := binary.LittleEndian.AppendUint64([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}, size)
	block := func(typ, n int, last bool, body ...byte) {
		h := uint32(n<<3 | typ<<1)
		if last {
			h |= 1
		}
		frame = append(append(frame, byte(h), byte(h>>8), byte(h>>16)), body...)
	}
	block(0, len(prefix), false, prefix...)
	for left := size - uint64(len(prefix)); left > 0; {
		n := min(left, maxBlockSize)
		left -= n
		block(1, int(n), left == 0, 0)
	}
	h := header{version: formatVersion, payloadLen: size, frameLen: uint64(len(frame)), frameCRC: crcOf(frame), payloadSum: sha256.Sum256(nil)}
	return append(h.marshal(), frame...)
}

// A checkpoint that declares more payload than its configuration can need
// is refused after decompressing only the configuration.
func TestSizeFromConfig(t *testing.T) {
	config := []byte(`{"params":1000}`)
	limit := func(c json.RawMessage) (int64, error) {
		var v struct{ Params int64 }
		if err := json.Unmarshal(c, &v); err != nil || v.Params <= 0 {
			return 0, errors.New("configuration names no size")
		}
		return 4 * v.Params, nil
	}
	// A configuration spanning several zstd blocks, ahead of real tensors.
	long := &Checkpoint{Config: json.RawMessage(`{"params":200000,"pad":"` + strings.Repeat("ab", 200_000) + `"}`), Tensors: []Tensor{ramp("w", 1000)}}
	tests := []struct {
		name  string
		data  []byte
		want  error  // nil: decodes
		msg   string // what the error says
		alloc uint64 // most bytes Decode may allocate
	}{
		{"1 GiB of zeros", zeroBomb(config, 1<<30), ErrTooLarge, "is more than its configuration can need (4000 bytes)", 4 << 20},
		{"configuration refused", zeroBomb([]byte(`{}`), 1<<30), nil, "configuration names no size", 4 << 20},
		{"configuration past the payload", bomb(binary.LittleEndian.AppendUint64(nil, 100), 16), ErrCorrupt, "runs past the end", 4 << 20},
		{"within the limit", zeroBomb(config, 3000), ErrCorrupt, "payload checksum mismatch", 4 << 20},
		{"long configuration", encodeBytes(t, long), nil, "", 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c, err := Decode(bytes.NewReader(tt.data), WithSizeFromConfig(limit))
			runtime.ReadMemStats(&after)
			switch {
			case tt.msg == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.msg == "":
				checkEqual(t, c, long)
			case err == nil || !strings.Contains(err.Error(), tt.msg) || (tt.want != nil && !errors.Is(err, tt.want)):
				t.Fatalf("Decode error = %v, want %v saying %q", err, tt.want, tt.msg)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > tt.alloc {
				t.Errorf("Decode allocated %d bytes, want at most %d", n, tt.alloc)
			}
		})
	}
}
