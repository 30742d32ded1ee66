package checkpoint

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"
)

// Tensor is a named float32 tensor in row-major order.
// A scalar has an empty Shape and one element.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Checkpoint is everything needed to rebuild a model and resume training.
type Checkpoint struct {
	// Config is the architecture and training configuration; this package
	// only checks that it is valid JSON (or empty).
	Config json.RawMessage
	// Tensors are the parameters; their order is preserved.
	Tensors []Tensor
	// Sections are opaque named byte blobs, e.g. "optimizer" and "rng".
	Sections map[string][]byte
}

// Tensor returns the tensor called name, if there is one.
func (c *Checkpoint) Tensor(name string) (Tensor, bool) {
	for _, t := range c.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// WeightsSum is the SHA-256 of the tensors alone, as the payload encodes
// them (names, shapes and data, in order). Two checkpoints of the same
// weights share it whatever else they hold: the header's SHA-256 also
// covers the configuration, which records the training's wall time, so
// retraining the same model bit for bit changes that one but not this.
func (c *Checkpoint) WeightsSum() [32]byte {
	n := 4
	for _, t := range c.Tensors {
		n += 4 + len(t.Name) + 4 + 8*len(t.Shape) + 8 + 4*len(t.Data)
	}
	return sha256.Sum256(appendTensors(make([]byte, 0, n), c.Tensors))
}

// Errors that callers may want to tell apart with errors.Is.
var (
	// ErrNotCheckpoint means the input does not start with the checkpoint magic.
	ErrNotCheckpoint = errors.New("not an sgn checkpoint")
	// ErrUnsupportedVersion means the file was written by a newer or unknown format version.
	ErrUnsupportedVersion = errors.New("unsupported checkpoint format version")
	// ErrTooLarge means the payload exceeds the limit set with WithMaxSize.
	ErrTooLarge = errors.New("checkpoint too large")
	// ErrCorrupt means the file is truncated, altered or malformed.
	ErrCorrupt = errors.New("corrupt checkpoint")
	// ErrInvalid means a Checkpoint given to Encode cannot be written.
	ErrInvalid = errors.New("invalid checkpoint")
)

const (
	// DefaultMaxSize is the default limit on the uncompressed payload: 4 GiB,
	// about a billion parameters.
	DefaultMaxSize int64 = 4 << 30

	// maxNameLen bounds tensor and section names; real names are short, and
	// the bound keeps a corrupt length from being taken seriously.
	maxNameLen = 4096
	// maxRank bounds the number of dimensions of a tensor.
	maxRank = 64
	// maxConfigPeek bounds the configuration decompressed for
	// WithSizeFromConfig; a configuration with a training record is a few
	// kilobytes, one naming 100,000 classes about a megabyte.
	maxConfigPeek = 16 << 20
)

// An Option configures Encode, Decode and ReadFile.
type Option func(*options)

type options struct {
	maxSize        int64
	sizeFromConfig func(config json.RawMessage) (int64, error)
	inputSize      int64 // 0: unknown
}

// WithMaxSize sets the largest uncompressed payload, in bytes, that will be
// written or read (default DefaultMaxSize). Decoding refuses a larger
// declared size before allocating anything for it. n <= 0 selects the default.
func WithMaxSize(n int64) Option {
	return func(o *options) {
		if n <= 0 {
			n = DefaultMaxSize
		}
		o.maxSize = n
	}
}

// WithSizeFromConfig makes Decode ask f, given the configuration at the
// start of the payload, for the largest payload that configuration can
// need, and refuse a checkpoint that declares more (ErrTooLarge), or whose
// configuration f refuses (with f's error), before decompressing the rest:
// a checkpoint then costs what its own model needs, not what its header
// claims. Only the configuration's first blocks are decompressed for f, and
// f sees the configuration before the checksum has verified it, so f must
// only bound sizes; Decode still verifies the whole payload afterwards.
func WithSizeFromConfig(f func(config json.RawMessage) (int64, error)) Option {
	return func(o *options) { o.sizeFromConfig = f }
}

// WithInputSize tells Decode how many bytes its input holds (a regular
// file's size, say), so that it sizes its read buffer at once instead of
// growing it: growing it by doubling to a 36 MB checkpoint took 0.8 s of
// page faults and clearing, a third of a short attack's CPU time. It is
// a hint: what Decode reads is still bounded by the header's claims, and
// those by the limits.
func WithInputSize(n int64) Option {
	return func(o *options) { o.inputSize = max(n, 0) }
}

func newOptions(opts []Option) options {
	o := options{maxSize: DefaultMaxSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// numElements returns the number of elements of shape, failing on negative
// dimensions or a product that does not fit in an int.
func numElements(shape []int) (int, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n = lo
	}
	return int(n), nil
}

func checkName(kind, name string, seen map[string]bool) error {
	switch {
	case name == "":
		return fmt.Errorf("%s with empty name", kind)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %.20q... is %d bytes, longer than %d", kind, name, len(name), maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8", kind, name)
	case seen[name]:
		return fmt.Errorf("duplicate %s name %q", kind, name)
	}
	seen[name] = true
	return nil
}

// validate checks that c can be written and returns its payload size.
func (c *Checkpoint) validate(o options) (int64, error) {
	if len(c.Config) > 0 && !json.Valid(c.Config) {
		return 0, errors.New("config is not valid JSON")
	}
	size := int64(8 + len(c.Config) + 4 + 4)
	seen := make(map[string]bool, len(c.Tensors))
	for _, t := range c.Tensors {
		if err := checkName("tensor", t.Name, seen); err != nil {
			return 0, err
		}
		if len(t.Shape) > maxRank {
			return 0, fmt.Errorf("tensor %q has rank %d, more than %d", t.Name, len(t.Shape), maxRank)
		}
		n, err := numElements(t.Shape)
		if err != nil {
			return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if n != len(t.Data) {
			return 0, fmt.Errorf("tensor %q: shape %v has %d elements but data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		size += int64(4 + len(t.Name) + 4 + 8*len(t.Shape) + 8 + 4*len(t.Data))
	}
	clear(seen)
	for name, b := range c.Sections {
		if err := checkName("section", name, seen); err != nil {
			return 0, err
		}
		size += int64(4 + len(name) + 8 + len(b))
	}
	if size > o.maxSize {
		return 0, fmt.Errorf("payload of %d bytes exceeds the limit of %d bytes (see WithMaxSize)", size, o.maxSize)
	}
	return size, nil
}
