package dataset_test

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"sgn/shared/dataset"
)

// idxFile returns an IDX file of unsigned bytes with the given header and data.
func idxFile(magic uint32, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, dims)
	b.Write(data)
	return b.Bytes()
}

func TestReadIDX(t *testing.T) {
	six := []byte{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name    string
		in      []byte
		dims    []int
		wantErr string
	}{
		{"images", idxFile(dataset.IDXImages, []uint32{1, 2, 3}, six), []int{1, 2, 3}, ""},
		{"labels", idxFile(dataset.IDXLabels, []uint32{6}, six), []int{6}, ""},
		{"empty", nil, nil, "unexpected EOF"},
		{"short header", idxFile(dataset.IDXImages, []uint32{1}, nil), nil, "unexpected EOF"},
		{"bad magic", idxFile(0x12340803, []uint32{6}, six), nil, "two zero bytes"},
		{"float elements", idxFile(0x00000d01, []uint32{6}, six), nil, "element type 0x0d"},
		{"no dims", idxFile(0x00000800, nil, six), nil, "0 dimensions"},
		{"too many dims", idxFile(0x00000805, []uint32{1, 1, 1, 1, 6}, six), nil, "5 dimensions"},
		{"zero dim", idxFile(dataset.IDXImages, []uint32{0, 2, 3}, nil), nil, "dimension 0 is 0"},
		{"short data", idxFile(dataset.IDXImages, []uint32{2, 2, 3}, six), nil, "short: 6 bytes"},
		{"trailing data", idxFile(dataset.IDXLabels, []uint32{5}, six), nil, "trailing bytes"},
		{"over the limit", idxFile(dataset.IDXImages, []uint32{1 << 20, 1 << 10, 2}, six), nil, "exceed the limit"},
		{"overflowing dims", idxFile(dataset.IDXImages, []uint32{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, six), nil, "exceed the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dataset.ReadIDX(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadIDX error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(got.Dims, tt.dims) || !bytes.Equal(got.Data, six) {
				t.Errorf("ReadIDX = dims %v data %v, want %v %v", got.Dims, got.Data, tt.dims, six)
			}
		})
	}
}

// A header may promise up to MaxIDXBytes; memory must follow the data
// actually present, not the promise.
func TestReadIDXAllocatesByData(t *testing.T) {
	in := idxFile(dataset.IDXImages, []uint32{1 << 20, 32, 32}, make([]byte, 1000))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := dataset.ReadIDX(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "short") {
		t.Fatalf("ReadIDX error = %v, want a short-data error", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("ReadIDX allocated %d bytes for a 1000-byte body", grew)
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
