package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const (
	// maxMetadataBytes bounds one message's flatbuffer metadata; a schema
	// with class names or a record batch header is a few kilobytes.
	maxMetadataBytes = 16 << 20
	// readChunk is how much of a message is read before more memory is
	// allocated for it, so a stream that lies about its lengths costs at
	// most about twice what it actually sends.
	readChunk = 4 << 20
	// zstdWindowFloor is the largest zstd window accepted for a buffer
	// smaller than it: encoders that stream without knowing the content
	// size declare windows of up to 8 MiB (klauspost/compress's default,
	// which arrow-go uses).
	zstdWindowFloor = 8 << 20
	// continuation marks an IPC message since Arrow 0.15.
	continuation = 0xFFFFFFFF
)

// messageReader frames IPC messages for arrow-go's ipc.Reader, checking
// each one before arrow-go decodes it: arrow-go trusts declared lengths
// (ipc.NewReader even ignores its body size limit, schema vectors are
// allocated at their declared length, and so is the uncompressed size of
// a compressed buffer), does not bounds check buffer positions, and treats
// a stream cut at a message boundary as complete.
type messageReader struct {
	r        io.Reader
	maxBody  int64
	maxRows  int64 // 0: no limit
	refCount atomic.Int64
	msg      *ipc.Message
	lay      *layout // set once the schema is accepted
	batches  int     // record batches read so far
	err      error   // first framing or validation error
	hdr      [8]byte
	zstd     *zstd.Decoder
	lz4      *lz4.Reader
}

func newMessageReader(r io.Reader, maxBody int64) *messageReader {
	m := &messageReader{r: r, maxBody: maxBody}
	m.refCount.Add(1)
	return m
}

func (m *messageReader) Retain() { m.refCount.Add(1) }

func (m *messageReader) Release() {
	if m.refCount.Add(-1) != 0 {
		return
	}
	if m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
	if m.zstd != nil {
		m.zstd.Close()
		m.zstd = nil
	}
}

// where names the message being read, for errors.
func (m *messageReader) where() string {
	if m.lay == nil {
		return "schema message"
	}
	return fmt.Sprintf("record batch %d", m.batches+1)
}

// Message returns the next message, io.EOF at the end-of-stream marker,
// or an error: one wrapping io.ErrUnexpectedEOF if the stream ends
// anywhere else, even between two messages.
func (m *messageReader) Message() (*ipc.Message, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
	msg, err := m.next()
	if err != nil && err != io.EOF {
		m.err = err
	}
	m.msg = msg
	return msg, err
}

func (m *messageReader) next() (*ipc.Message, error) {
	if _, err := io.ReadFull(m.r, m.hdr[:4]); err != nil {
		switch {
		case err == io.EOF && m.lay == nil:
			return nil, fmt.Errorf("empty input, want an Arrow IPC stream: %w", io.ErrUnexpectedEOF)
		case err == io.EOF:
			return nil, fmt.Errorf("stream truncated: it ends without an end-of-stream marker after %d record batches: %w", m.batches, io.ErrUnexpectedEOF)
		}
		return nil, m.readErr("message prefix", err)
	}
	if m.lay == nil && string(m.hdr[:4]) == "ARRO" {
		return nil, fmt.Errorf("input is an Arrow IPC file, want the Arrow IPC stream format")
	}
	// Writers since Arrow 0.15 (2019) put a continuation marker before
	// each length; the older form is not accepted.
	if binary.LittleEndian.Uint32(m.hdr[:4]) != continuation {
		if m.lay == nil {
			return nil, fmt.Errorf("not an Arrow IPC stream: it starts with %x, want ffffffff", m.hdr[:4])
		}
		return nil, fmt.Errorf("%s: message starts with %x, want ffffffff", m.where(), m.hdr[:4])
	}
	if _, err := io.ReadFull(m.r, m.hdr[4:8]); err != nil {
		return nil, m.readErr("message length", err)
	}
	metaLen := binary.LittleEndian.Uint32(m.hdr[4:8])
	if metaLen == 0 {
		return nil, io.EOF // end-of-stream marker
	}
	if metaLen > maxMetadataBytes {
		return nil, fmt.Errorf("%s: metadata length %d exceeds %d bytes", m.where(), metaLen, maxMetadataBytes)
	}
	meta, err := readFull(m.r, int64(metaLen))
	if err != nil {
		return nil, m.readErr("metadata", err)
	}
	info, err := parseMessage(meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.where(), err)
	}
	if err := m.checkMessage(info); err != nil {
		return nil, fmt.Errorf("%s: %w", m.where(), err)
	}
	body, err := readFull(m.r, info.bodyLen)
	if err != nil {
		return nil, m.readErr("body", err)
	}
	if info.headerType == fbHeaderRecordBatch {
		if meta, body, err = m.checkBody(info, meta, body); err != nil {
			return nil, fmt.Errorf("%s: %w", m.where(), err)
		}
		m.batches++
	}
	metaBuf, bodyBuf := memory.NewBufferBytes(meta), memory.NewBufferBytes(body)
	msg := ipc.NewMessage(metaBuf, bodyBuf)
	metaBuf.Release()
	bodyBuf.Release()
	return msg, nil
}

func (m *messageReader) readErr(part string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("stream truncated in the %s of %s: %w", part, m.where(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s of %s: %w", part, m.where(), err)
}

// readFull reads n bytes, allocating as the data arrives rather than all
// at once.
func readFull(r io.Reader, n int64) ([]byte, error) {
	return appendFull(make([]byte, 0, min(n, readChunk)), r, n)
}

// appendFull appends n bytes read from r to buf, growing buf as the data
// arrives.
func appendFull(buf []byte, r io.Reader, n int64) ([]byte, error) {
	for n > 0 {
		step := int(min(n, readChunk))
		buf = slices.Grow(buf, step)
		k, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+k]
		n -= int64(k)
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// checkMessage checks a message's metadata before its body is read.
func (m *messageReader) checkMessage(info ipcMessage) error {
	if info.version != fbMetadataV4 && info.version != fbMetadataV5 {
		return fmt.Errorf("unsupported metadata version %d, want V4 or V5", info.version+1)
	}
	if info.bodyLen < 0 {
		return fmt.Errorf("negative body length %d", info.bodyLen)
	}
	if m.maxRows > 0 && m.lay != nil && info.headerType == fbHeaderRecordBatch && info.rows > m.maxRows {
		return fmt.Errorf("%d rows, more than the %d this reader takes in one record batch", info.rows, m.maxRows)
	}
	if info.bodyLen > m.maxBody {
		return fmt.Errorf("declared body of %d bytes exceeds the limit of %d bytes per record batch", info.bodyLen, m.maxBody)
	}
	if m.lay == nil {
		if info.headerType != fbHeaderSchema {
			return fmt.Errorf("stream starts with a %v message, want a Schema", ipc.MessageType(info.headerType))
		}
		return nil
	}
	if info.headerType != fbHeaderRecordBatch {
		return fmt.Errorf("unexpected %v message, want a RecordBatch", ipc.MessageType(info.headerType))
	}
	if info.compressed && info.codec != fbCodecLZ4 && info.codec != fbCodecZstd {
		return fmt.Errorf("unknown compression codec %d", info.codec)
	}
	rows := info.rows
	if rows < 0 {
		return fmt.Errorf("negative row count %d", rows)
	}
	wantNodes, wantBufs := 0, 0
	for _, c := range m.lay.cols {
		if c.listSize > 0 {
			wantNodes, wantBufs = wantNodes+2, wantBufs+3
		} else {
			wantNodes, wantBufs = wantNodes+1, wantBufs+2
		}
	}
	if len(info.nodes) != wantNodes || len(info.buffers) != wantBufs {
		return fmt.Errorf("%d field nodes and %d buffers, want %d and %d for the schema", len(info.nodes), len(info.buffers), wantNodes, wantBufs)
	}
	for _, b := range info.buffers {
		if b.a < 0 || b.b < 0 || b.a > info.bodyLen-b.b {
			return fmt.Errorf("buffer at offset %d of length %d lies outside the %d-byte body", b.a, b.b, info.bodyLen)
		}
	}
	node := 0
	for _, c := range m.lay.cols {
		n := info.nodes[node]
		node++
		if n.a != rows {
			return fmt.Errorf("column %q has %d rows, want %d", c.name, n.a, rows)
		}
		if n.b != 0 {
			return fmt.Errorf("column %q has %d null values, want none", c.name, n.b)
		}
		if c.listSize == 0 {
			continue
		}
		child := info.nodes[node]
		node++
		if rows > math.MaxInt64/int64(c.listSize) || child.a != rows*int64(c.listSize) {
			return fmt.Errorf("column %q holds %d elements for %d tensors of %d", c.name, child.a, rows, c.listSize)
		}
		if child.b != 0 {
			return fmt.Errorf("column %q has %d null tensor elements, want none", c.name, child.b)
		}
	}
	return nil
}

// checkBody checks that each data buffer holds the bytes its column
// needs. A compressed body is decompressed here, within the batch limit,
// and returned as an uncompressed message: arrow-go would allocate each
// buffer's declared size before decoding it, and a new zstd decoder (with
// megabytes of buffers) for every record batch.
func (m *messageReader) checkBody(info ipcMessage, meta, body []byte) ([]byte, []byte, error) {
	var (
		total int64
		sizes = make([]int64, len(info.buffers)) // uncompressed sizes of data buffers
		buf   = 0
	)
	for _, c := range m.lay.cols {
		n := info.rows
		if c.listSize > 0 {
			buf++ // the list's validity bitmap, unused without nulls
			n *= int64(c.listSize)
		}
		buf++ // validity bitmap, unused without nulls
		if n > m.maxBody/int64(c.width) {
			return nil, nil, fmt.Errorf("column %q: %d values exceed the limit of %d bytes per record batch", c.name, n, m.maxBody)
		}
		need := n * int64(c.width)
		b := info.buffers[buf]
		buf++
		if need == 0 {
			continue
		}
		have := b.b
		if info.compressed {
			if b.b < 8 {
				return nil, nil, fmt.Errorf("column %q: compressed buffer of %d bytes has no length prefix", c.name, b.b)
			}
			data := body[b.a : b.a+b.b]
			have = int64(binary.LittleEndian.Uint64(data))
			if have == -1 { // stored uncompressed
				have = b.b - 8
			} else {
				if have < 0 || have > m.maxBody-total {
					return nil, nil, fmt.Errorf("column %q: declared uncompressed size %d exceeds the limit of %d bytes per record batch", c.name, have, m.maxBody)
				}
				total += have
				if info.codec == fbCodecZstd {
					if err := checkZstd(data[8:], max(have, zstdWindowFloor)); err != nil {
						return nil, nil, fmt.Errorf("column %q: %w", c.name, err)
					}
				}
			}
		}
		if have < need {
			return nil, nil, fmt.Errorf("column %q: buffer of %d bytes, want %d", c.name, have, need)
		}
		sizes[buf-1] = have
	}
	if !info.compressed {
		return meta, body, nil
	}

	out := make([]byte, 0, min(total, readChunk))
	buffers := make([]fbPair, len(info.buffers))
	for i, b := range info.buffers {
		if sizes[i] == 0 {
			continue // a validity bitmap or an empty buffer
		}
		out = append(out, make([]byte, (8-len(out)%8)%8)...)
		buffers[i] = fbPair{int64(len(out)), sizes[i]}
		data := body[b.a+8 : b.a+b.b]
		if int64(binary.LittleEndian.Uint64(body[b.a:])) == -1 {
			out = append(out, data...)
			continue
		}
		dec, err := m.decompressor(info.codec, data)
		if err != nil {
			return nil, nil, err
		}
		if out, err = appendFull(out, dec, sizes[i]); err != nil {
			return nil, nil, fmt.Errorf("decompress buffer %d: %w", i, err)
		}
	}
	return uncompressedMessage(info, buffers, int64(len(out))), out, nil
}

// decompressor returns a reader of the data decompressed, reusing one
// decoder per codec.
func (m *messageReader) decompressor(codec uint8, data []byte) (io.Reader, error) {
	src := bytes.NewReader(data)
	if codec == fbCodecLZ4 {
		if m.lz4 == nil {
			m.lz4 = lz4.NewReader(src)
		} else {
			m.lz4.Reset(src)
		}
		return m.lz4, nil
	}
	if m.zstd == nil {
		limit := uint64(max(m.maxBody, zstdWindowFloor))
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(limit), zstd.WithDecoderMaxMemory(limit))
		if err != nil {
			return nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		m.zstd = dec
	}
	if err := m.zstd.Reset(src); err != nil {
		return nil, fmt.Errorf("start zstd decoder: %w", err)
	}
	return m.zstd, nil
}

// uncompressedMessage returns the metadata of an uncompressed record
// batch with info's rows and nodes and the given buffers.
func uncompressedMessage(info ipcMessage, buffers []fbPair, bodyLen int64) []byte {
	b := flatbuffers.NewBuilder(128 + 16*(len(info.nodes)+len(buffers)))
	structs := func(v []fbPair) flatbuffers.UOffsetT {
		b.StartVector(16, len(v), 8)
		for i := len(v) - 1; i >= 0; i-- {
			b.Prep(8, 16)
			b.PrependInt64(v[i].b)
			b.PrependInt64(v[i].a)
		}
		return b.EndVector(len(v))
	}
	nodes := structs(info.nodes)
	bufs := structs(buffers)
	b.StartObject(5) // RecordBatch
	b.PrependInt64Slot(0, info.rows, 0)
	b.PrependUOffsetTSlot(1, nodes, 0)
	b.PrependUOffsetTSlot(2, bufs, 0)
	rb := b.EndObject()
	b.StartObject(5) // Message
	b.PrependInt64Slot(3, bodyLen, 0)
	b.PrependUOffsetTSlot(2, rb, 0)
	b.PrependInt16Slot(0, info.version, 0)
	b.PrependByteSlot(1, fbHeaderRecordBatch, 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}

// checkZstd refuses zstd data in which a frame's window (the history the
// decoder allocates up front) exceeds limit bytes. It walks every frame,
// since the decoder moves on to the next frame of a buffer by itself:
// zstd.Header decodes each frame header, and the block headers that
// follow are walked here, as the decoder does not say where a frame ends.
func checkZstd(data []byte, limit int64) error {
	for len(data) > 0 {
		var h zstd.Header
		rest, err := h.DecodeAndStrip(data)
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("zstd data is truncated")
		case errors.Is(err, zstd.ErrMagicMismatch):
			return fmt.Errorf("compressed buffer is not zstd data")
		case err != nil:
			return fmt.Errorf("zstd frame header: %v", err)
		case h.Skippable:
			if uint64(h.SkippableSize) > uint64(len(rest)) {
				return fmt.Errorf("zstd data is truncated")
			}
			data = rest[h.SkippableSize:]
			continue
		}
		// A single-segment frame is decoded into a buffer of its content
		// size, which is then its window.
		window := h.WindowSize
		if h.SingleSegment {
			window = h.FrameContentSize
		}
		if window > uint64(limit) {
			return fmt.Errorf("zstd window of %d bytes exceeds %d", window, limit)
		}
		data = rest
		pos := 0
		for last := false; !last; {
			if len(data) < pos+3 {
				return fmt.Errorf("zstd frame is truncated")
			}
			bh := uint32(data[pos]) | uint32(data[pos+1])<<8 | uint32(data[pos+2])<<16
			pos += 3
			last = bh&1 != 0
			size := int(bh >> 3)
			switch (bh >> 1) & 3 {
			case 1: // RLE: one byte repeated size times
				size = 1
			case 3:
				return fmt.Errorf("zstd block of reserved type")
			}
			if len(data)-pos < size {
				return fmt.Errorf("zstd frame is truncated")
			}
			pos += size
		}
		if h.HasCheckSum {
			pos += 4
		}
		if len(data) < pos {
			return fmt.Errorf("zstd frame is truncated")
		}
		data = data[pos:]
	}
	return nil
}
