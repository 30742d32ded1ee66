package stream

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestCheckZstd checks the frame walk on data an encoder made and on
// frames altered to claim more window than allowed, preceded by skippable
// frames, or cut short.
func TestCheckZstd(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	frame := enc.EncodeAll(bytes.Repeat([]byte("sgn "), 5000), nil)
	enc.Close()
	skippable := binary.LittleEndian.AppendUint32(nil, 0x184D2A53)
	skippable = binary.LittleEndian.AppendUint32(skippable, 3)
	skippable = append(skippable, 1, 2, 3)
	// A single-segment frame's window is its content size: 2^40 bytes.
	huge := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}
	huge = binary.LittleEndian.AppendUint64(huge, 1<<40)
	huge = append(huge, 0x01, 0x00, 0x00) // one empty raw block, the last
	tests := []struct {
		name string
		data []byte
		want string // "" for accepted
	}{
		{"frame", frame, ""},
		{"two frames", append(append([]byte{}, frame...), frame...), ""},
		{"skippable then frame", append(append([]byte{}, skippable...), frame...), ""},
		{"huge window", huge, "zstd window of 1099511627776 bytes exceeds"},
		{"cut frame", frame[:len(frame)-5], "truncated"},
		{"cut skippable frame", skippable[:9], "truncated"},
		{"not zstd", []byte("not zstd data"), "not zstd"},
	}
	for _, tt := range tests {
		err := checkZstd(tt.data, 1<<20)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}
