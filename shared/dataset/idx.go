package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on what a reader accepts, far above the official files, so that a
// damaged or hostile header cannot make it allocate without bound.
const (
	// MaxIDXBytes bounds the data of one IDX file (MNIST's largest holds
	// 47,040,000 bytes).
	MaxIDXBytes = 1 << 30
	maxIDXDims  = 4
)

// IDX magic numbers: two zero bytes, the element type (0x08 unsigned byte)
// and the number of dimensions.
const (
	IDXLabels = 0x00000801
	IDXImages = 0x00000803
)

// IDX is the content of an IDX file of unsigned bytes.
type IDX struct {
	Magic uint32 // IDXLabels, IDXImages, ...
	Dims  []int  // dimension sizes from the header
	Data  []byte // prod(Dims) bytes, row-major
}

// ReadIDX reads an IDX file of unsigned bytes (already decompressed) from r.
// It refuses a header whose sizes exceed MaxIDXBytes before allocating, and
// data that is shorter or longer than the header says.
func ReadIDX(r io.Reader) (*IDX, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("idx header: %w", noEOF(err))
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("idx header: magic %#08x does not start with two zero bytes", binary.BigEndian.Uint32(head[:]))
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("idx header: element type %#02x, want 0x08 (unsigned byte)", head[2])
	}
	nd := int(head[3])
	if nd < 1 || nd > maxIDXDims {
		return nil, fmt.Errorf("idx header: %d dimensions, want 1 to %d", nd, maxIDXDims)
	}
	dimBytes := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, dimBytes); err != nil {
		return nil, fmt.Errorf("idx header: %w", noEOF(err))
	}
	dims := make([]int, nd)
	size := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(dimBytes[4*i:]))
		if d == 0 {
			return nil, fmt.Errorf("idx header: dimension %d is 0", i)
		}
		// Checked at every step so that the product cannot overflow.
		if size*d > MaxIDXBytes {
			return nil, fmt.Errorf("idx header: dimensions %v exceed the limit of %d bytes", dimsOf(dimBytes), MaxIDXBytes)
		}
		size *= d
		dims[i] = int(d)
	}
	// ReadAll grows its buffer as data arrives, so a header that promises
	// more than the file holds costs no more memory than the file.
	data, err := io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return nil, fmt.Errorf("idx data: %w", err)
	}
	switch {
	case int64(len(data)) < size:
		return nil, fmt.Errorf("idx data: short: %d bytes, header %v says %d", len(data), dims, size)
	case int64(len(data)) > size:
		return nil, fmt.Errorf("idx data: trailing bytes after the %d that header %v says", size, dims)
	}
	return &IDX{Magic: binary.BigEndian.Uint32(head[:]), Dims: dims, Data: data}, nil
}

func dimsOf(b []byte) []uint32 {
	d := make([]uint32, len(b)/4)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return d
}

// noEOF turns a clean EOF in the middle of a structure into
// io.ErrUnexpectedEOF, which is what it means there.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
