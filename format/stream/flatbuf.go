package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file reads the few fields of an IPC message's flatbuffer metadata
// that must be checked before arrow-go trusts them (body length, buffer
// positions, node lengths, compression), with a bounds check on every read.
// arrow-go's own accessors index the bytes unchecked.

var errBadFlatbuffer = errors.New("malformed message metadata")

// fbTable is a flatbuffer table: buf[pos:] with its vtable at buf[vt:].
type fbTable struct {
	buf   []byte
	pos   int
	vt    int
	vtLen int
}

func fbU32(buf []byte, p int) (uint32, bool) {
	if p < 0 || p > len(buf)-4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(buf[p:]), true
}

func fbTableAt(buf []byte, pos int) (fbTable, error) {
	so, ok := fbU32(buf, pos)
	if !ok {
		return fbTable{}, errBadFlatbuffer
	}
	vt := pos - int(int32(so))
	if vt < 0 || vt > len(buf)-4 {
		return fbTable{}, errBadFlatbuffer
	}
	vtLen := int(binary.LittleEndian.Uint16(buf[vt:]))
	if vtLen < 4 || vt+vtLen > len(buf) {
		return fbTable{}, errBadFlatbuffer
	}
	return fbTable{buf: buf, pos: pos, vt: vt, vtLen: vtLen}, nil
}

func fbRoot(buf []byte) (fbTable, error) {
	off, ok := fbU32(buf, 0)
	if !ok {
		return fbTable{}, errBadFlatbuffer
	}
	return fbTableAt(buf, int(off))
}

// field returns the position of field i and whether it is present, having
// checked that size bytes are readable there.
func (t fbTable) field(i, size int) (int, bool, error) {
	slot := 4 + 2*i
	if slot+2 > t.vtLen {
		return 0, false, nil
	}
	off := int(binary.LittleEndian.Uint16(t.buf[t.vt+slot:]))
	if off == 0 {
		return 0, false, nil
	}
	p := t.pos + off
	if p > len(t.buf)-size {
		return 0, false, errBadFlatbuffer
	}
	return p, true, nil
}

func (t fbTable) int64Field(i int, def int64) (int64, error) {
	p, ok, err := t.field(i, 8)
	if !ok || err != nil {
		return def, err
	}
	return int64(binary.LittleEndian.Uint64(t.buf[p:])), nil
}

func (t fbTable) int16Field(i int, def int16) (int16, error) {
	p, ok, err := t.field(i, 2)
	if !ok || err != nil {
		return def, err
	}
	return int16(binary.LittleEndian.Uint16(t.buf[p:])), nil
}

func (t fbTable) uint8Field(i int, def uint8) (uint8, error) {
	p, ok, err := t.field(i, 1)
	if !ok || err != nil {
		return def, err
	}
	return t.buf[p], nil
}

// target follows the offset stored in field i.
func (t fbTable) target(i int) (int, bool, error) {
	p, ok, err := t.field(i, 4)
	if !ok || err != nil {
		return 0, ok, err
	}
	off, _ := fbU32(t.buf, p)
	q := int64(p) + int64(off)
	if q > int64(len(t.buf)) {
		return 0, false, errBadFlatbuffer
	}
	return int(q), true, nil
}

func (t fbTable) tableField(i int) (fbTable, bool, error) {
	q, ok, err := t.target(i)
	if !ok || err != nil {
		return fbTable{}, false, err
	}
	sub, err := fbTableAt(t.buf, q)
	return sub, err == nil, err
}

// structVector returns the position and length of a vector of structs of
// elemSize bytes each, checked to lie within the buffer.
func (t fbTable) structVector(i, elemSize int) (start, n int, err error) {
	q, ok, err := t.target(i)
	if !ok || err != nil {
		return 0, 0, err
	}
	l, ok := fbU32(t.buf, q)
	if !ok || int64(l)*int64(elemSize) > int64(len(t.buf)-q-4) {
		return 0, 0, errBadFlatbuffer
	}
	return q + 4, int(l), nil
}

// Arrow IPC message header types and compression codecs (Message.fbs).
const (
	fbHeaderSchema      = 1
	fbHeaderRecordBatch = 3

	fbCodecLZ4  = 0
	fbCodecZstd = 1

	fbMetadataV4 = 3
	fbMetadataV5 = 4
)

// ipcMessage is what this package checks of a message's metadata.
type ipcMessage struct {
	version    int16
	headerType uint8
	bodyLen    int64
	// For record batches:
	rows       int64
	nodes      []fbPair // length, null count
	buffers    []fbPair // offset, length
	compressed bool
	codec      uint8
}

// fbPair is a FieldNode (length, null_count) or a Buffer (offset, length).
type fbPair struct{ a, b int64 }

// parseMessage reads the checked fields of an IPC message's metadata.
func parseMessage(meta []byte) (ipcMessage, error) {
	var m ipcMessage
	root, err := fbRoot(meta)
	if err != nil {
		return m, err
	}
	if m.version, err = root.int16Field(0, 0); err != nil {
		return m, err
	}
	if m.headerType, err = root.uint8Field(1, 0); err != nil {
		return m, err
	}
	if m.bodyLen, err = root.int64Field(3, 0); err != nil {
		return m, err
	}
	if err := root.checkKeyValues(4); err != nil {
		return m, err
	}
	if m.headerType == fbHeaderSchema {
		s, ok, err := root.tableField(2)
		if err != nil {
			return m, err
		}
		if !ok {
			return m, fmt.Errorf("%w: schema message without schema", errBadFlatbuffer)
		}
		return m, checkSchema(s)
	}
	if m.headerType != fbHeaderRecordBatch {
		return m, nil
	}
	rb, ok, err := root.tableField(2)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, fmt.Errorf("%w: record batch without header", errBadFlatbuffer)
	}
	if m.rows, err = rb.int64Field(0, 0); err != nil {
		return m, err
	}
	if m.nodes, err = pairs(rb, 1); err != nil {
		return m, err
	}
	if m.buffers, err = pairs(rb, 2); err != nil {
		return m, err
	}
	comp, ok, err := rb.tableField(3)
	if err != nil {
		return m, err
	}
	if ok {
		m.compressed = true
		if m.codec, err = comp.uint8Field(0, fbCodecLZ4); err != nil {
			return m, err
		}
		method, err := comp.uint8Field(1, 0)
		if err != nil {
			return m, err
		}
		if method != 0 {
			return m, fmt.Errorf("unknown body compression method %d", method)
		}
	}
	return m, nil
}

// pairs reads a vector of 16-byte structs of two int64s.
func pairs(t fbTable, field int) ([]fbPair, error) {
	start, n, err := t.structVector(field, 16)
	if err != nil {
		return nil, err
	}
	out := make([]fbPair, n)
	for i := range out {
		p := start + 16*i
		out[i] = fbPair{
			a: int64(binary.LittleEndian.Uint64(t.buf[p:])),
			b: int64(binary.LittleEndian.Uint64(t.buf[p+8:])),
		}
	}
	return out, nil
}

// Limits on what a schema may declare. arrow-go allocates slices of the
// declared vector lengths and recurses into child fields without a depth
// limit, so a few bytes could otherwise ask for gigabytes or, with a
// cycle of offsets, recurse forever.
const (
	maxSchemaFields = 1024 // fields at all depths
	maxSchemaDepth  = 8
	maxKeyValues    = 1024 // custom metadata entries per table
)

// Arrow type ids (Schema.fbs) whose tables hold a string or vector.
const (
	fbTypeTimestamp = 10
	fbTypeUnion     = 14
)

// offsetVector returns the position and length of a vector of offsets.
func (t fbTable) offsetVector(i int) (start, n int, err error) {
	return t.structVector(i, 4)
}

// tableIn follows the offset stored at position p.
func tableIn(buf []byte, p int) (fbTable, error) {
	off, ok := fbU32(buf, p)
	if !ok || int64(p)+int64(off) > int64(len(buf)) {
		return fbTable{}, errBadFlatbuffer
	}
	return fbTableAt(buf, p+int(off))
}

// checkString checks that string field i, if present, lies in the buffer.
func (t fbTable) checkString(i int) error {
	_, _, err := t.structVector(i, 1)
	return err
}

// checkKeyValues checks a custom_metadata vector of KeyValue tables.
func (t fbTable) checkKeyValues(i int) error {
	start, n, err := t.offsetVector(i)
	if err != nil {
		return err
	}
	if n > maxKeyValues {
		return fmt.Errorf("more than %d metadata entries", maxKeyValues)
	}
	for k := range n {
		kv, err := tableIn(t.buf, start+4*k)
		if err != nil {
			return err
		}
		if err := kv.checkString(0); err != nil {
			return err
		}
		if err := kv.checkString(1); err != nil {
			return err
		}
	}
	return nil
}

// checkSchema checks everything arrow-go reads of a Schema table.
func checkSchema(s fbTable) error {
	fields := 0
	if err := checkFields(s, 1, 0, &fields); err != nil {
		return err
	}
	if err := s.checkKeyValues(2); err != nil {
		return err
	}
	_, _, err := s.structVector(3, 8) // features
	return err
}

// checkFields checks the vector of Field tables in field i of t.
func checkFields(t fbTable, i, depth int, count *int) error {
	start, n, err := t.offsetVector(i)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if depth >= maxSchemaDepth {
		return fmt.Errorf("schema nests fields deeper than %d", maxSchemaDepth)
	}
	for k := range n {
		*count++
		if *count > maxSchemaFields {
			return fmt.Errorf("schema has more than %d fields", maxSchemaFields)
		}
		f, err := tableIn(t.buf, start+4*k)
		if err != nil {
			return err
		}
		if err := f.checkString(0); err != nil { // name
			return err
		}
		typeID, err := f.uint8Field(2, 0)
		if err != nil {
			return err
		}
		typ, ok, err := f.tableField(3)
		if err != nil {
			return err
		}
		if ok {
			switch typeID {
			case fbTypeTimestamp:
				err = typ.checkString(1) // timezone
			case fbTypeUnion:
				_, _, err = typ.structVector(1, 4) // typeIds
			}
			if err != nil {
				return err
			}
		}
		dict, ok, err := f.tableField(4)
		if err != nil {
			return err
		}
		if ok {
			if _, _, err := dict.tableField(1); err != nil { // index type
				return err
			}
		}
		if err := checkFields(f, 5, depth+1, count); err != nil {
			return err
		}
		if err := f.checkKeyValues(6); err != nil {
			return err
		}
	}
	return nil
}
