package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"
)

// Metadata keys of the files sgn writes. Values are strings, as the format
// requires; the JSON ones are opaque here.
const (
	// KeyFormat is the framework the layouts follow; sgn writes "pt", as
	// PyTorch's own save_file does.
	KeyFormat = "format"
	// KeyModel holds the model configuration as JSON: architecture, input
	// shape, classes and input normalisation.
	KeyModel = "sgn.model"
	// KeySGN holds the self-gradient configuration as JSON (absent for a
	// plain network).
	KeySGN = "sgn.sgn"
	// KeyTrain holds the training configuration and progress as JSON, for
	// provenance and the attacks' default budget.
	KeyTrain = "sgn.train"
)

// DType names a tensor's element type as the format spells it.
type DType string

// The element types of the format.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the bytes per element, and false for an unknown type.
func (d DType) Size() (int, bool) {
	switch d {
	case F64, I64, U64:
		return 8, true
	case F32, I32, U32:
		return 4, true
	case F16, BF16, I16, U16:
		return 2, true
	case I8, U8, Bool:
		return 1, true
	}
	return 0, false
}

// Tensor is one named tensor: its raw little-endian bytes, row-major.
type Tensor struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar, which has one element
	Data  []byte
}

// File is a whole safetensors file.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor // in the order of the header
}

// Tensor returns the tensor called name, if there is one.
func (f *File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Float32 returns a float32 tensor holding v.
func Float32(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

// Int64 returns an int64 tensor holding v.
func Int64(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: shape, Data: b}
}

// Float32s returns the values of a floating-point tensor as float32: F32
// as stored, F64 rounded to nearest, F16 and BF16 exactly.
func (t Tensor) Float32s() ([]float32, error) {
	le := binary.LittleEndian
	size, ok := t.DType.Size()
	if !ok || len(t.Data)%size != 0 {
		return nil, fmt.Errorf("tensor %s: %d bytes of dtype %s", t.Name, len(t.Data), t.DType)
	}
	out := make([]float32, len(t.Data)/size)
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(t.Data[8*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(t.Data[2*i:])) << 16)
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(le.Uint16(t.Data[2*i:]))
		}
	default:
		return nil, fmt.Errorf("tensor %s has dtype %s, want a floating-point type (F32, F64, F16, BF16)", t.Name, t.DType)
	}
	return out, nil
}

// Int64s returns the values of an I64 tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if t.DType != I64 || len(t.Data)%8 != 0 {
		return nil, fmt.Errorf("tensor %s has dtype %s, want I64", t.Name, t.DType)
	}
	out := make([]int64, len(t.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 half-precision value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Errors callers may tell apart with errors.Is.
var (
	// ErrCorrupt means the input is truncated or malformed.
	ErrCorrupt = errors.New("corrupt safetensors")
	// ErrTooLarge means the input exceeds a limit of this reader.
	ErrTooLarge = errors.New("safetensors file too large")
	// ErrInvalid means a File given to Encode cannot be written.
	ErrInvalid = errors.New("invalid safetensors file")
)

const (
	// MaxHeaderSize bounds the JSON header, as the reference implementation
	// does (100 MB).
	MaxHeaderSize = 100_000_000
	// DefaultMaxSize bounds the tensor data: 4 GiB, about a billion float32
	// parameters, like the checkpoint reader.
	DefaultMaxSize int64 = 4 << 30
	// maxRank bounds the dimensions of a tensor.
	maxRank = 64
)

// numBytes returns the byte size of a tensor of shape and dtype, failing on
// negative dimensions or overflow.
func numBytes(shape []int, dt DType) (uint64, error) {
	size, ok := dt.Size()
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", dt)
	}
	if len(shape) > maxRank {
		return 0, fmt.Errorf("rank %d exceeds %d", len(shape), maxRank)
	}
	n := uint64(size)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n = lo
	}
	return n, nil
}

func checkName(name string, seen map[string]bool) error {
	switch {
	case name == "":
		return errors.New("tensor with an empty name")
	case name == metadataKey:
		return fmt.Errorf("tensor named %s", metadataKey)
	case !utf8.ValidString(name):
		return fmt.Errorf("tensor name %q is not valid UTF-8", name)
	case seen[name]:
		return fmt.Errorf("tensor %q named twice", name)
	}
	seen[name] = true
	return nil
}

const metadataKey = "__metadata__"
