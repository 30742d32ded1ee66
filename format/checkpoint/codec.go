package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

const (
	// The NUL byte makes grep, git and editors treat the file as binary.
	magic = "SGNCKPT\x00"

	formatVersion = 1

	headerSize = 64

	// The encoder's match window is pinned so that output does not change
	// with the library's defaults.
	windowSize = 8 << 20
	// maxDecoderWindow is the largest window klauspost/compress accepts.
	maxDecoderWindow = 1<<41 + 7<<38

	// Reading the compressed frame starts with a buffer of at most this
	// size and grows only as bytes actually arrive, so a header that lies
	// about the frame length costs nothing.
	initialReadSize = 64 << 10
)

// The payload checksum is SHA-256 rather than xxhash64: klauspost/compress
// keeps its xxhash in an internal package, SHA-256 is in the standard library
// and hardware-accelerated (a 13 MB payload hashes in milliseconds), and a
// collision-resistant digest lets a user pin a checkpoint's content.
//
// The frame also carries a CRC-32C. The SHA-256 alone would miss the few
// bytes of a zstd frame that can change without changing the output (an
// unused header bit, the window descriptor); the CRC catches every damaged
// byte before the decompressor sees it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type header struct {
	version    uint32
	payloadLen uint64
	frameLen   uint64
	frameCRC   uint32
	payloadSum [sha256.Size]byte
}

func (h *header) marshal() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, headerSize)
	b = append(b, magic...)
	b = le.AppendUint32(b, h.version)
	b = le.AppendUint64(b, h.payloadLen)
	b = le.AppendUint64(b, h.frameLen)
	b = le.AppendUint32(b, h.frameCRC)
	return append(b, h.payloadSum[:]...)
}

func unmarshalHeader(b []byte) header {
	le := binary.LittleEndian
	h := header{
		version:    le.Uint32(b[8:]),
		payloadLen: le.Uint64(b[12:]),
		frameLen:   le.Uint64(b[20:]),
		frameCRC:   le.Uint32(b[28:]),
	}
	copy(h.payloadSum[:], b[32:])
	return h
}

// IsCheckpoint reports whether prefix, the first bytes of a file, starts
// with the checkpoint magic. It needs at least 8 bytes.
func IsCheckpoint(prefix []byte) bool {
	return bytes.HasPrefix(prefix, []byte(magic))
}

// encode validates c and returns the header and the compressed frame.
func encode(c *Checkpoint, o options) (hdr, frame []byte, err error) {
	size, err := c.validate(o)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return seal(marshalPayload(c, size))
}

// seal compresses payload and returns the header and frame that hold it.
func seal(payload []byte) (hdr, frame []byte, err error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(windowSize),
		// A single-segment frame always declares its content size, which
		// the decoder checks against the header before decoding.
		zstd.WithSingleSegment(true),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, nil, fmt.Errorf("create zstd encoder: %w", err)
	}
	defer enc.Close()
	frame = enc.EncodeAll(payload, make([]byte, 0, maxFrameLen(uint64(len(payload)))))
	h := header{
		version:    formatVersion,
		payloadLen: uint64(len(payload)),
		frameLen:   uint64(len(frame)),
		frameCRC:   crc32.Checksum(frame, castagnoli),
		payloadSum: sha256.Sum256(payload),
	}
	return h.marshal(), frame, nil
}

// Encode writes c to w as a checkpoint file. It validates c before writing
// anything: names must be unique and non-empty, and each tensor's data must
// match its shape.
func Encode(w io.Writer, c *Checkpoint, opts ...Option) error {
	hdr, frame, err := encode(c, newOptions(opts))
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if _, err := w.Write(frame); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// Decode reads one checkpoint from r, which must end where the checkpoint
// ends. Truncated, altered or oversized input is refused with ErrCorrupt,
// ErrNotCheckpoint, ErrUnsupportedVersion or ErrTooLarge.
func Decode(r io.Reader, opts ...Option) (*Checkpoint, error) {
	o := newOptions(opts)
	hint := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		hint = int64(l.Len()) - headerSize
	} else if o.inputSize > 0 {
		hint = o.inputSize - headerSize
	}
	return decode(r, o, hint)
}

// decode is Decode with a hint of how many bytes follow the header, or -1.
// The hint, which comes from the input rather than from its claims, sizes
// the read buffer at once instead of growing it.
func decode(r io.Reader, o options, hint int64) (*Checkpoint, error) {
	var hb [headerSize]byte
	n, err := io.ReadFull(r, hb[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("read checkpoint header: %w", err)
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: empty input", ErrNotCheckpoint)
	case !IsCheckpoint(hb[:n]) && !bytes.HasPrefix([]byte(magic), hb[:n]):
		return nil, fmt.Errorf("%w: bad magic %q", ErrNotCheckpoint, hb[:min(n, len(magic))])
	case n < headerSize:
		return nil, fmt.Errorf("%w: truncated header (%d of %d bytes)", ErrCorrupt, n, headerSize)
	}
	h := unmarshalHeader(hb[:])
	if h.version != formatVersion {
		return nil, fmt.Errorf("%w %d (this build reads version %d)", ErrUnsupportedVersion, h.version, formatVersion)
	}
	if h.payloadLen > uint64(o.maxSize) {
		return nil, fmt.Errorf("%w: payload of %d bytes exceeds the limit of %d bytes (see WithMaxSize)", ErrTooLarge, h.payloadLen, o.maxSize)
	}
	if h.frameLen > maxFrameLen(h.payloadLen) {
		return nil, fmt.Errorf("%w: compressed length %d is impossible for a payload of %d bytes", ErrCorrupt, h.frameLen, h.payloadLen)
	}

	var buf bytes.Buffer
	buf.Grow(int(min(h.frameLen, uint64(max(hint, initialReadSize)))))
	got, err := buf.ReadFrom(io.LimitReader(r, int64(h.frameLen)))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint data: %w", err)
	}
	if uint64(got) < h.frameLen {
		return nil, fmt.Errorf("%w: truncated: header declares %d compressed bytes, input has %d", ErrCorrupt, h.frameLen, got)
	}
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return nil, fmt.Errorf("%w: unexpected data after the end of the checkpoint", ErrCorrupt)
	case err != io.EOF:
		return nil, fmt.Errorf("read checkpoint data: %w", err)
	}
	frame := buf.Bytes()
	if crc32.Checksum(frame, castagnoli) != h.frameCRC {
		return nil, fmt.Errorf("%w: compressed data checksum mismatch", ErrCorrupt)
	}
	if err := checkFrame(frame, h.payloadLen); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if o.sizeFromConfig != nil {
		config, err := peekConfig(frame, h.payloadLen)
		if err != nil {
			return nil, err
		}
		limit, err := o.sizeFromConfig(config)
		if err != nil {
			return nil, err
		}
		if h.payloadLen > uint64(max(limit, 0)) {
			return nil, fmt.Errorf("%w: payload of %d bytes is more than its configuration can need (%d bytes)", ErrTooLarge, h.payloadLen, limit)
		}
	}

	// The payload is verified whole before any of it is parsed.
	payload, err := decompress(frame, h.payloadLen)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(payload) != h.payloadSum {
		return nil, fmt.Errorf("%w: payload checksum mismatch", ErrCorrupt)
	}
	return unmarshalPayload(payload)
}

// maxFrameLen bounds the compressed size of n bytes: zstd never stores a
// block larger than its raw form plus a 3-byte block header, and the frame
// header and checksum add at most 22 bytes.
func maxFrameLen(n uint64) uint64 {
	const blocks = maxBlockSize
	return n + 3*(n/blocks+1) + 22
}

// decompress decodes a frame that checkFrame accepted to exactly
// payloadLen bytes.
func decompress(frame []byte, payloadLen uint64) ([]byte, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		// The decoder wants room for a whole minimum window even when the
		// frame is smaller; checkFrame has already pinned the real size.
		zstd.WithDecoderMaxMemory(max(payloadLen, zstd.MinWindowSize)),
		// A single-segment frame's window is its whole content, and
		// DecodeAll decodes into the output rather than a separate window.
		zstd.WithDecoderMaxWindow(min(max(payloadLen, zstd.MinWindowSize), maxDecoderWindow)))
	if err != nil {
		return nil, fmt.Errorf("create zstd decoder: %w", err)
	}
	defer dec.Close()
	payload, err := dec.DecodeAll(frame, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
	}
	if uint64(len(payload)) != payloadLen {
		return nil, fmt.Errorf("%w: payload is %d bytes, header declares %d", ErrCorrupt, len(payload), payloadLen)
	}
	return payload, nil
}

const maxBlockSize = 128 << 10

// peekConfig returns the configuration at the start of the payload of a
// frame that checkFrame accepted, decompressing only as many blocks as it
// takes: a frame that declares gigabytes costs what its configuration
// does. The configuration is not yet verified by the payload checksum.
func peekConfig(frame []byte, payloadLen uint64) (json.RawMessage, error) {
	prefix, err := decodePrefix(frame, min(8, payloadLen))
	if err != nil {
		return nil, err
	}
	if len(prefix) < 8 {
		return nil, fmt.Errorf("%w: config length of 8 bytes runs past the end of the %d-byte payload", ErrCorrupt, payloadLen)
	}
	n := binary.LittleEndian.Uint64(prefix)
	switch {
	case n > payloadLen-8:
		return nil, fmt.Errorf("%w: config of %d bytes runs past the end of the %d-byte payload", ErrCorrupt, n, payloadLen)
	case n > maxConfigPeek:
		return nil, fmt.Errorf("%w: config of %d bytes exceeds %d bytes", ErrTooLarge, n, maxConfigPeek)
	}
	if prefix, err = decodePrefix(frame, 8+n); err != nil {
		return nil, err
	}
	return json.RawMessage(prefix[8 : 8+n]), nil
}

// decodePrefix returns the first n bytes of the payload of a frame that
// checkFrame accepted. The frame declares its whole content as its window,
// which a streaming decoder would allocate at once; so the frame is decoded
// as one whose window is only what the prefix needs (a match can reach no
// further back than what has been decoded), and decoding stops after n
// bytes.
func decodePrefix(frame []byte, n uint64) ([]byte, error) {
	var h zstd.Header
	blocks, err := h.DecodeAndStrip(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd frame header: %v", ErrCorrupt, err)
	}
	windowLog := max(bits.Len64(n+2*maxBlockSize), 17) // at least a block
	window := uint64(1) << windowLog
	fhd := byte(0) // no single segment, content size, dictionary
	if h.HasCheckSum {
		fhd |= 0x04
	}
	head := []byte{0x28, 0xb5, 0x2f, 0xfd, fhd, byte(windowLog-10) << 3}
	dec, err := zstd.NewReader(io.MultiReader(bytes.NewReader(head), bytes.NewReader(blocks)),
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(window),
		zstd.WithDecoderMaxMemory(window+4*maxBlockSize))
	if err != nil {
		return nil, fmt.Errorf("create zstd decoder: %w", err)
	}
	defer dec.Close()
	out := make([]byte, n)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
	}
	return out, nil
}

// checkFrame walks the block headers of frame and refuses anything but a
// single standard zstd frame declaring payloadLen bytes and ending exactly at
// the end of frame. That keeps skippable frames, dictionaries and trailing
// frames away from the decoder, and bounds its output before it runs.
func checkFrame(frame []byte, payloadLen uint64) error {
	var h zstd.Header
	rest, err := h.DecodeAndStrip(frame)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated zstd frame header")
	case err != nil:
		return fmt.Errorf("zstd frame header: %v", err)
	case h.Skippable:
		return errors.New("skippable zstd frame where the payload should be")
	case h.DictionaryID != 0:
		return fmt.Errorf("zstd frame needs dictionary %d", h.DictionaryID)
	case !h.HasFCS:
		return errors.New("zstd frame does not declare its content size")
	case h.FrameContentSize != payloadLen:
		return fmt.Errorf("zstd frame declares %d bytes, header declares %d", h.FrameContentSize, payloadLen)
	}
	var exact uint64 // output of raw and RLE blocks, known without decoding
	for last := false; !last; {
		if len(rest) < 3 {
			return errors.New("truncated zstd block header")
		}
		bh := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16
		rest = rest[3:]
		last = bh&1 != 0
		size := int(bh >> 3)
		if size > maxBlockSize {
			return fmt.Errorf("zstd block of %d bytes exceeds %d", size, maxBlockSize)
		}
		stored := size
		switch (bh >> 1) & 3 {
		case 0: // raw
			exact += uint64(size)
		case 1: // RLE: one byte repeated size times
			exact += uint64(size)
			stored = 1
		case 2: // compressed
		default:
			return errors.New("reserved zstd block type")
		}
		if exact > payloadLen {
			return fmt.Errorf("zstd blocks decode to more than the declared %d bytes", payloadLen)
		}
		if len(rest) < stored {
			return errors.New("truncated zstd block")
		}
		rest = rest[stored:]
	}
	if h.HasCheckSum {
		if len(rest) < 4 {
			return errors.New("truncated zstd frame checksum")
		}
		rest = rest[4:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes of trailing garbage after the zstd frame", len(rest))
	}
	return nil
}
