package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// marshalPayload appends the payload encoding of c to a buffer of exactly
// size bytes. c must have been validated.
func marshalPayload(c *Checkpoint, size int64) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, size)
	b = le.AppendUint64(b, uint64(len(c.Config)))
	b = append(b, c.Config...)

	b = appendTensors(b, c.Tensors)

	// Sorted so that the same checkpoint always encodes to the same bytes.
	names := make([]string, 0, len(c.Sections))
	for name := range c.Sections {
		names = append(names, name)
	}
	slices.Sort(names)
	b = le.AppendUint32(b, uint32(len(names)))
	for _, name := range names {
		sec := c.Sections[name]
		b = le.AppendUint32(b, uint32(len(name)))
		b = append(b, name...)
		b = le.AppendUint64(b, uint64(len(sec)))
		b = append(b, sec...)
	}
	return b
}

// appendTensors appends the payload's tensors field: the count, then each
// tensor's name, shape and data.
func appendTensors(b []byte, tensors []Tensor) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(len(tensors)))
	for _, t := range tensors {
		b = le.AppendUint32(b, uint32(len(t.Name)))
		b = append(b, t.Name...)
		b = le.AppendUint32(b, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			b = le.AppendUint64(b, uint64(d))
		}
		b = le.AppendUint64(b, 4*uint64(len(t.Data)))
		for _, v := range t.Data {
			b = le.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// payloadReader walks a payload, checking every length against the bytes
// that remain before using it. The first error sticks.
type payloadReader struct {
	b   []byte
	off int
	err error
}

func (r *payloadReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *payloadReader) remaining() int { return len(r.b) - r.off }

// next returns the next n bytes, aliasing the payload.
func (r *payloadReader) next(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(r.remaining()) {
		r.fail("%s of %d bytes runs past the end of the payload at offset %d (%d bytes left)", what, n, r.off, r.remaining())
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *payloadReader) u32(what string) uint32 {
	b := r.next(4, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *payloadReader) u64(what string) uint64 {
	b := r.next(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *payloadReader) name(kind string, seen map[string]bool) string {
	n := r.u32(kind + " name length")
	if r.err != nil {
		return ""
	}
	if n > maxNameLen {
		r.fail("%s name length %d exceeds %d", kind, n, maxNameLen)
		return ""
	}
	name := string(r.next(uint64(n), kind+" name"))
	if r.err != nil {
		return ""
	}
	if err := checkName(kind, name, seen); err != nil {
		r.fail("%v", err)
	}
	return name
}

// capacity returns how many records of at least minSize bytes can follow,
// so that a declared count never sizes an allocation on its own.
func (r *payloadReader) capacity(count uint32, minSize int) int {
	return min(int(count), r.remaining()/minSize)
}

func unmarshalPayload(b []byte) (*Checkpoint, error) {
	r := &payloadReader{b: b}
	c := &Checkpoint{}

	if cfg := r.next(r.u64("config length"), "config"); len(cfg) > 0 {
		if !json.Valid(cfg) {
			return nil, fmt.Errorf("%w: config is not valid JSON", ErrCorrupt)
		}
		c.Config = json.RawMessage(slices.Clone(cfg))
	}

	// A tensor record is at least a name length, one name byte, a rank and
	// a data length.
	count := r.u32("tensor count")
	c.Tensors = make([]Tensor, 0, r.capacity(count, 4+1+4+8))
	seen := make(map[string]bool)
	for i := uint32(0); i < count && r.err == nil; i++ {
		c.Tensors = append(c.Tensors, r.tensor(seen))
	}

	count = r.u32("section count")
	c.Sections = make(map[string][]byte, r.capacity(count, 4+1+8))
	clear(seen)
	for i := uint32(0); i < count && r.err == nil; i++ {
		name := r.name("section", seen)
		sec := r.next(r.u64("section "+quote(name)+" length"), "section "+quote(name))
		if r.err == nil {
			c.Sections[name] = slices.Clone(sec)
			if c.Sections[name] == nil {
				c.Sections[name] = []byte{}
			}
		}
	}

	if r.err != nil {
		return nil, r.err
	}
	if n := r.remaining(); n != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes after the last section", ErrCorrupt, n)
	}
	return c, nil
}

func (r *payloadReader) tensor(seen map[string]bool) Tensor {
	name := r.name("tensor", seen)
	rank := r.u32("tensor " + quote(name) + " rank")
	if r.err != nil {
		return Tensor{}
	}
	if rank > maxRank {
		r.fail("tensor %q has rank %d, more than %d", name, rank, maxRank)
		return Tensor{}
	}
	dims := r.next(8*uint64(rank), "tensor "+quote(name)+" shape")
	if r.err != nil {
		return Tensor{}
	}
	shape := make([]int, rank)
	for i := range shape {
		d := int64(binary.LittleEndian.Uint64(dims[8*i:]))
		if d < 0 || d > math.MaxInt {
			r.fail("tensor %q has dimension %d out of range", name, d)
			return Tensor{}
		}
		shape[i] = int(d)
	}
	n, err := numElements(shape)
	if err != nil {
		r.fail("tensor %q: %v", name, err)
		return Tensor{}
	}
	size := r.u64("tensor " + quote(name) + " data length")
	if r.err != nil {
		return Tensor{}
	}
	if n > math.MaxInt/4 || size != 4*uint64(n) {
		r.fail("tensor %q declares shape %v = %d elements but has %d bytes", name, shape, n, size)
		return Tensor{}
	}
	raw := r.next(size, "tensor "+quote(name)+" data")
	if r.err != nil {
		return Tensor{}
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return Tensor{Name: name, Shape: shape, Data: data}
}

func quote(name string) string { return fmt.Sprintf("%q", name) }
