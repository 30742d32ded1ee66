// Command craft writes the hostile inputs of issue 17 into a directory:
// checkpoints re-sealed with lying configurations and training progress, a
// checkpoint declaring 4 GiB of zeros, tiny zstd streams of huge images or
// of one 1 GB record batch, streams of other shapes and of pixels outside
// [0,1], a stream without examples, and a 1 MB gzip IDX file of 1 GB.
//
//	craft DIR MODEL.sgn EXAMPLES.arrow
//
// MODEL.sgn is an mlp checkpoint with a training record (sgn-train -arch
// mlp), EXAMPLES.arrow MNIST examples (sgn-fetch -split test). hostile.sh
// runs the tools on what it writes.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"sgn/format/checkpoint"
	"sgn/format/stream"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: craft DIR MODEL.sgn EXAMPLES.arrow")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "craft:", err)
		os.Exit(1)
	}
}

func run(dir, model, data string) error {
	out := func(name string) string { return filepath.Join(dir, name) }
	ck, err := checkpoint.ReadFile(model)
	if err != nil {
		return err
	}
	edits := map[string]func(map[string]any){
		// Item 1: declared input shapes.
		"ck-shape-8m.sgn":    func(m map[string]any) { m["model"].(map[string]any)["in_shape"] = []int{1, 8, 1000000} },
		"ck-shape-1000m.sgn": func(m map[string]any) { m["model"].(map[string]any)["in_shape"] = []int{1, 1000, 1000000} },
	}
	// Item 3: training progress.
	for name, kv := range map[string][2]any{"ck-batch-neg.sgn": {"batch", -1}, "ck-epoch-neg.sgn": {"epoch", -1},
		"ck-batch-huge.sgn": {"batch", 99999999}, "ck-step-neg.sgn": {"step", -5}} {
		edits[name] = func(m map[string]any) {
			m["train"].(map[string]any)["progress"].(map[string]any)[kv[0].(string)] = kv[1]
		}
	}
	for name, edit := range edits {
		if err := writeEdited(out(name), ck, edit); err != nil {
			return err
		}
	}
	// Item 7: a payload of 4 GiB of zeros after a valid configuration.
	if err := writeZeroBomb(out("ck-4gib.sgn"), ck.Config, 4<<30); err != nil {
		return err
	}

	f, err := os.Open(data)
	if err != nil {
		return err
	}
	h, b, err := stream.ReadAll(f, 0)
	f.Close()
	if err != nil {
		return err
	}
	zeros := []struct {
		name string
		h    stream.Header
		rows int
	}{
		// Item 2: tiny zstd streams of huge images.
		{"huge-8m.arrow", stream.Header{Shape: []int{1, 8, 1000000}, Elem: stream.Uint8}, 2},
		{"huge-4096.arrow", stream.Header{Shape: []int{1, 4096, 4096}, Elem: stream.Uint8}, 2},
		// Item 7: one zstd record batch of 1.07 GB.
		{"batch-1g.arrow", stream.Header{Shape: []int{1, 28, 28}, Elem: stream.Uint8, Metadata: h.Metadata}, (1<<30 - 1<<20) / (784 + 8)},
	}
	for _, z := range zeros {
		batch := &stream.Batch{Pixels: make([]uint8, z.rows*z.h.ExampleSize()), Labels: make([]int64, z.rows)}
		if err := writeStream(out(z.name), z.h, batch, stream.WithBatchRows(z.rows), stream.WithZstd()); err != nil {
			return err
		}
	}
	// Item 8: the same values in other shapes.
	for name, shape := range map[string][]int{"shape-784.arrow": {784}, "shape-28x28.arrow": {28, 28}, "shape-1x1x28x28.arrow": {1, 1, 28, 28}} {
		other := h
		other.Shape = shape
		if err := writeStream(out(name), other, b); err != nil {
			return err
		}
	}
	// Item 9: pixels outside [0,1], stored or once scaled.
	x := h.Float32Images(b, nil)
	for name, p := range map[string]struct {
		v     float32
		scale string
	}{"pixel-1e30.arrow": {1e30, "1"}, "pixel-neg.arrow": {-1, "1"}, "pixel-1e10-scale.arrow": {1e10, "1e30"}} {
		fx := append([]float32(nil), x...)
		fx[3*784+100] = p.v
		fh := stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: p.scale}}
		if err := writeStream(out(name), fh, &stream.Batch{Floats: fx, Labels: b.Labels}); err != nil {
			return err
		}
	}
	if err := writeStream(out("schema-only.arrow"), h, nil); err != nil {
		return err
	}
	// Item 7: a 1 MB gzip IDX file of 1 GB of zeros, named like MNIST's.
	if err := os.MkdirAll(out("idxbomb"), 0o755); err != nil {
		return err
	}
	return writeIDXBomb(out("idxbomb/train-images-idx3-ubyte.gz"), 1<<30)
}

// writeEdited writes ck with its configuration edited, sealed with valid
// checksums.
func writeEdited(path string, ck *checkpoint.Checkpoint, edit func(map[string]any)) error {
	var m map[string]any
	if err := json.Unmarshal(ck.Config, &m); err != nil {
		return err
	}
	edit(m)
	c := *ck
	var err error
	if c.Config, err = json.Marshal(m); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := checkpoint.Encode(&buf, &c); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeZeroBomb writes a checkpoint whose payload is config, then zeros up
// to size bytes in RLE blocks (a few bytes per 128 KiB), with a valid CRC
// and a wrong SHA-256.
func writeZeroBomb(path string, config []byte, size uint64) error {
	prefix := append(binary.LittleEndian.AppendUint64(nil, uint64(len(config))), config...)
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
		n := min(left, 128<<10)
		left -= n
		block(1, int(n), left == 0, 0)
	}
	hdr := append([]byte("SGNCKPT\x00"), 1, 0, 0, 0)
	hdr = binary.LittleEndian.AppendUint64(hdr, size)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(frame)))
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(frame, crc32.MakeTable(crc32.Castagnoli)))
	sum := sha256.Sum256(nil)
	return os.WriteFile(path, append(append(hdr, sum[:]...), frame...), 0o644)
}

func writeStream(path string, h stream.Header, b *stream.Batch, opts ...stream.WriterOption) error {
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h, opts...)
	if err != nil {
		return err
	}
	if b != nil {
		if err := w.Write(b); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeIDXBomb writes a gzip'd IDX file of images of 28x28 zeros, size
// bytes in all.
func writeIDXBomb(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	n := (size - 16) / 784
	hdr := binary.BigEndian.AppendUint32(nil, 0x803)
	for _, d := range []int{n, 28, 28} {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	if _, err := zw.Write(hdr); err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for left := n * 784; left > 0; left -= len(zero) {
		if _, err := zw.Write(zero[:min(left, len(zero))]); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}
