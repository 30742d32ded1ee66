package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Encode writes f to w: the header with the metadata (keys sorted) and the
// tensors in their order, then their data back to back.
func Encode(w io.Writer, f *File) error {
	var h bytes.Buffer
	h.WriteByte('{')
	if len(f.Metadata) > 0 {
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(f.Metadata[k]) {
				return fmt.Errorf("%w: metadata %q is not valid UTF-8", ErrInvalid, k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		h.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, f.Metadata[k])
		}
		h.WriteByte('}')
	}
	seen := make(map[string]bool, len(f.Tensors))
	var offset uint64
	for i, t := range f.Tensors {
		if err := checkName(t.Name, seen); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		n, err := numBytes(t.Shape, t.DType)
		if err != nil {
			return fmt.Errorf("%w: tensor %s: %v", ErrInvalid, t.Name, err)
		}
		if n != uint64(len(t.Data)) {
			return fmt.Errorf("%w: tensor %s: shape %v of %s is %d bytes, data has %d", ErrInvalid, t.Name, t.Shape, t.DType, n, len(t.Data))
		}
		if i > 0 || len(f.Metadata) > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		fmt.Fprintf(&h, `:{"dtype":"%s","shape":[`, t.DType)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, offset+n)
		offset += n
	}
	h.WriteByte('}')
	// Padding to a multiple of 8 keeps every tensor of 8-byte elements
	// aligned when the file is mapped into memory.
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return fmt.Errorf("%w: header of %d bytes exceeds %d", ErrInvalid, h.Len(), MaxHeaderSize)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(h.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, t := range f.Tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a valid UTF-8 string always marshals
	b.Write(q)
}

// An Option configures Decode.
type Option func(*options)

type options struct{ maxSize int64 }

// WithMaxSize sets the largest tensor data, in bytes, Decode accepts
// (default DefaultMaxSize); a larger declared size is refused before any of
// it is read. n <= 0 selects the default.
func WithMaxSize(n int64) Option {
	return func(o *options) {
		if n <= 0 {
			n = DefaultMaxSize
		}
		o.maxSize = n
	}
}

// headerEntry is a tensor's entry in the header.
type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       *[]int64 `json:"shape"` // a pointer, so that a missing shape is told from a scalar's []
	DataOffsets []uint64 `json:"data_offsets"`
}

// Decode reads a whole safetensors file from r, which must end where the
// file does.
func Decode(r io.Reader, opts ...Option) (*File, error) {
	o := options{maxSize: DefaultMaxSize}
	for _, opt := range opts {
		opt(&o)
	}
	var n [8]byte
	if got, err := io.ReadFull(r, n[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrCorrupt, got)
		}
		return nil, err
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	if hlen > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header length %d exceeds %d", ErrCorrupt, hlen, MaxHeaderSize)
	}
	header, err := readExactly(r, int64(hlen), "header")
	if err != nil {
		return nil, err
	}
	f, entries, total, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if total > uint64(o.maxSize) {
		return nil, fmt.Errorf("%w: %d bytes of tensor data, more than the limit of %d", ErrTooLarge, total, o.maxSize)
	}
	data, err := readExactly(r, int64(total), "tensor data")
	if err != nil {
		return nil, err
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k > 0 {
		return nil, fmt.Errorf("%w: bytes after the %d bytes of tensor data the header declares", ErrCorrupt, total)
	}
	for i, e := range entries {
		f.Tensors[i].Data = data[e.DataOffsets[0]:e.DataOffsets[1]:e.DataOffsets[1]]
	}
	return f, nil
}

// readExactly reads n bytes, growing its buffer only as bytes arrive, so
// that a declared length alone never sizes an allocation.
func readExactly(r io.Reader, n int64, what string) ([]byte, error) {
	var b bytes.Buffer
	got, err := b.ReadFrom(io.LimitReader(r, n))
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("%w: truncated: %s of %d bytes has only %d", ErrCorrupt, what, n, got)
	}
	return b.Bytes(), nil
}

// parseHeader parses the JSON header and checks every entry. It returns the
// file without data, the entries in the same order as its tensors, and the
// data length the offsets tile.
func parseHeader(header []byte) (*File, []headerEntry, uint64, error) {
	fail := func(format string, args ...any) (*File, []headerEntry, uint64, error) {
		return nil, nil, 0, fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if !utf8.Valid(header) {
		return fail("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail("header is not a JSON object")
	}
	f := &File{}
	var entries []headerEntry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("header: %v", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail("header entry %q: %v", name, err)
		}
		if name == metadataKey {
			if f.Metadata != nil {
				return fail("header has two %s entries", metadataKey)
			}
			if err := json.Unmarshal(raw, &f.Metadata); err != nil || f.Metadata == nil {
				return fail("%s must map names to strings", metadataKey)
			}
			continue
		}
		if err := checkName(name, seen); err != nil {
			return fail("%v", err)
		}
		var e headerEntry
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return fail("tensor %s: %v", name, err)
		}
		if e.Shape == nil || len(e.DataOffsets) != 2 {
			return fail("tensor %s: want dtype, shape and two data_offsets", name)
		}
		shape := make([]int, len(*e.Shape))
		for i, v := range *e.Shape {
			if v < 0 || v > math.MaxInt32 {
				return fail("tensor %s: dimension %d out of range", name, v)
			}
			shape[i] = int(v)
		}
		size, err := numBytes(shape, e.DType)
		if err != nil {
			return fail("tensor %s: %v", name, err)
		}
		if e.DataOffsets[1] < e.DataOffsets[0] || e.DataOffsets[1]-e.DataOffsets[0] != size {
			return fail("tensor %s: data offsets %v hold %d bytes, its shape %v of %s needs %d",
				name, e.DataOffsets, int64(e.DataOffsets[1])-int64(e.DataOffsets[0]), shape, e.DType, size)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: name, DType: e.DType, Shape: shape})
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return fail("header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("header: data after the JSON object")
	}
	// The offsets must tile [0, total): sorted by start, each tensor begins
	// where the previous one ends.
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ea, eb := entries[a].DataOffsets, entries[b].DataOffsets
		if ea[0] != eb[0] {
			return cmpU64(ea[0], eb[0])
		}
		return cmpU64(ea[1], eb[1])
	})
	var total uint64
	for _, i := range order {
		e := entries[i]
		if e.DataOffsets[0] != total {
			what := "overlaps the previous tensor"
			if e.DataOffsets[0] > total {
				what = "leaves a hole before it"
			}
			return fail("tensor %s: data offsets %v: %s (expected to start at %d)", f.Tensors[i].Name, e.DataOffsets, what, total)
		}
		total = e.DataOffsets[1]
	}
	return f, entries, total, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
