package convert

import (
	"bufio"
	"fmt"
	"io"

	"sgn/format/checkpoint"
	"sgn/format/safetensors"
	"sgn/shared/classifier"
)

// WriteSafetensors reads a checkpoint from r and writes its weights to w as
// safetensors in PyTorch's layout. It returns the classifier it converted.
func WriteSafetensors(r io.Reader, w io.Writer) (*classifier.Classifier, error) {
	br := bufio.NewReader(r)
	if prefix, _ := br.Peek(8); len(prefix) == 8 && !checkpoint.IsCheckpoint(prefix) && looksLikeSafetensors(prefix) {
		return nil, fmt.Errorf("this is a safetensors file, not an sgn checkpoint: use -to sgn")
	}
	c, err := classifier.Load(br)
	if err != nil {
		return nil, err
	}
	f, err := ToSafetensors(c)
	if err != nil {
		return nil, err
	}
	return c, safetensors.Encode(w, f)
}

// WriteCheckpoint reads safetensors in PyTorch's layout from r and writes
// the classifier they hold to w as a checkpoint. arch names the
// architecture when the metadata does not; note says what was inferred.
func WriteCheckpoint(r io.Reader, w io.Writer, arch string) (c *classifier.Classifier, note string, err error) {
	br := bufio.NewReader(r)
	if prefix, _ := br.Peek(8); checkpoint.IsCheckpoint(prefix) {
		return nil, "", fmt.Errorf("this is an sgn checkpoint, not a safetensors file: use -to safetensors")
	}
	f, err := safetensors.Decode(br)
	if err != nil {
		return nil, "", err
	}
	if c, note, err = FromSafetensors(f, arch); err != nil {
		return nil, "", err
	}
	return c, note, c.Encode(w)
}

// looksLikeSafetensors reports whether an 8-byte prefix is a plausible
// safetensors header length (the JSON header follows).
func looksLikeSafetensors(prefix []byte) bool {
	var n uint64
	for i := 7; i >= 0; i-- {
		n = n<<8 | uint64(prefix[i])
	}
	return n > 0 && n <= safetensors.MaxHeaderSize
}
