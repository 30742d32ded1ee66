package optim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// An Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step updates params in place from grads (one slice per parameter
	// tensor, with the sizes the optimizer was created for) at learning rate
	// lr. If a gradient holds NaN or Inf, or a size is wrong, it returns an
	// error and leaves every parameter untouched.
	Step(params, grads [][]float32, lr float64) error
	// MarshalBinary returns the full state (moments and step count) so that
	// training resumes exactly.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary restores a state written by MarshalBinary for the same
	// parameter sizes and options; otherwise it returns an error and leaves
	// the optimizer unchanged.
	UnmarshalBinary(data []byte) error
}

// SGDOption configures NewSGD.
type SGDOption interface{ applySGD(*SGD) }

// AdamOption configures NewAdam.
type AdamOption interface{ applyAdam(*Adam) }

// An Option configures either optimizer.
type Option interface {
	SGDOption
	AdamOption
}

type weightDecay float64

func (wd weightDecay) applySGD(s *SGD) { s.weightDecay = float64(wd) }
func (wd weightDecay) applyAdam(a *Adam) {
	a.weightDecay = float64(wd)
	a.decoupled = false
}

// WithWeightDecay adds the L2 penalty wd/2·‖p‖² to the loss, that is wd·p to
// each gradient before the update, as torch.optim.SGD and torch.optim.Adam
// do. For Adam this coupled decay is scaled by the adaptive step; see
// WithDecoupledWeightDecay for AdamW.
func WithWeightDecay(wd float64) Option { return weightDecay(wd) }

type decayMask []bool

func (m decayMask) applySGD(s *SGD)   { s.mask = m }
func (m decayMask) applyAdam(a *Adam) { a.mask = m }

// WithDecayMask restricts weight decay to the parameters whose entry is true;
// biases and batch-norm parameters are usually left out. The mask needs one
// entry per parameter tensor. Without it every parameter is decayed.
func WithDecayMask(mask []bool) Option { return decayMask(append([]bool(nil), mask...)) }

// isFinite32 reports whether v is neither NaN nor infinite (v-v is NaN for both).
func isFinite32(v float32) bool { return v-v == 0 }

// checkStep validates the arguments of Step before anything is changed.
func checkStep(sizes []int, mask []bool, params, grads [][]float32, lr float64) error {
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return fmt.Errorf("optim: learning rate %v is not a finite non-negative number", lr)
	}
	if mask != nil && len(mask) != len(sizes) {
		return fmt.Errorf("optim: weight decay mask has %d entries, want one per parameter (%d)", len(mask), len(sizes))
	}
	if len(params) != len(sizes) {
		return fmt.Errorf("optim: got %d parameter tensors, optimizer was created for %d", len(params), len(sizes))
	}
	if len(grads) != len(sizes) {
		return fmt.Errorf("optim: got %d gradient tensors, want %d", len(grads), len(sizes))
	}
	for i, n := range sizes {
		if len(params[i]) != n {
			return fmt.Errorf("optim: parameter %d has %d values, want %d", i, len(params[i]), n)
		}
		if len(grads[i]) != n {
			return fmt.Errorf("optim: gradient of parameter %d has %d values, want %d", i, len(grads[i]), n)
		}
	}
	for i, g := range grads {
		if allFinite32(g) {
			continue
		}
		for j, v := range g {
			if !isFinite32(v) {
				return fmt.Errorf("optim: gradient of parameter %d is not finite (%v at index %d); parameters left unchanged", i, v, j)
			}
		}
	}
	return nil
}

// allFinite32 reports whether every value of v is finite: v-v is 0 for a
// finite v and NaN otherwise, and a sum keeps a NaN. Four running sums and
// no branch: a branch per value took a madry-mnist train step 1.5% of its
// CPU time, for its 3.3 million gradients.
func allFinite32(v []float32) bool {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := (*[4]float32)(v[i:])
		s0 += w[0] - w[0]
		s1 += w[1] - w[1]
		s2 += w[2] - w[2]
		s3 += w[3] - w[3]
	}
	for ; i < len(v); i++ {
		s0 += v[i] - v[i]
	}
	return s0+s1+s2+s3 == 0
}

// decays reports whether parameter i gets weight decay.
func decays(mask []bool, i int) bool { return mask == nil || mask[i] }

// stateMagic returns the tag that starts the marshalled state of an
// optimizer kind ("sgd" or "adam"); its digit is the format version.
func stateMagic(kind string) string {
	switch kind {
	case "sgd":
		return "SGD1"
	case "adam":
		return "ADM1"
	}
	panic("optim: unknown optimizer kind " + kind)
}

// MaxStateSize is the largest state MarshalBinary writes, for any
// optimizer, for parameters of the given sizes: Adam's two moments per
// value. A checkpoint's reader uses it to bound what it may hold.
func MaxStateSize(sizes []int) int {
	total := 0
	for _, n := range sizes {
		total += n
	}
	return 4 + 8 + 4 + 8*len(sizes) + 4 + 2*4*total
}

// The marshalled state is: magic (4 bytes), step count (uint64), number of
// parameters (uint32), each parameter's size (uint64), number of buffers per
// parameter (uint32), then each buffer of each parameter as little-endian
// float32 values, buffer by buffer.
func encodeState(kind string, steps int64, sizes []int, buffers [][][]float32) []byte {
	total := 0
	for _, n := range sizes {
		total += n
	}
	b := make([]byte, 0, 4+8+4+8*len(sizes)+4+4*total*len(buffers))
	b = append(b, stateMagic(kind)...)
	b = binary.LittleEndian.AppendUint64(b, uint64(steps))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sizes)))
	for _, n := range sizes {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(buffers)))
	for _, buf := range buffers {
		for _, t := range buf {
			for _, v := range t {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	return b
}

// decodeState parses a state written by encodeState for an optimizer of the
// given kind, sizes and number of buffers per parameter.
func decodeState(kind string, data []byte, sizes []int, nbuf int) (steps int64, buffers [][][]float32, err error) {
	errTrunc := fmt.Errorf("optim: %s state is truncated", kind)
	if len(data) < 4 {
		return 0, nil, errTrunc
	}
	if m := string(data[:4]); m != stateMagic(kind) {
		for _, other := range []string{"sgd", "adam"} {
			if m == stateMagic(other) {
				return 0, nil, fmt.Errorf("optim: state is for %s, not %s", other, kind)
			}
		}
		return 0, nil, errors.New("optim: not an optimizer state (bad magic)")
	}
	data = data[4:]
	if len(data) < 8+4 {
		return 0, nil, errTrunc
	}
	steps = int64(binary.LittleEndian.Uint64(data))
	if steps < 0 {
		return 0, nil, fmt.Errorf("optim: %s state has a negative step count", kind)
	}
	if n := binary.LittleEndian.Uint32(data[8:]); uint64(n) != uint64(len(sizes)) {
		return 0, nil, fmt.Errorf("optim: %s state has %d parameters, optimizer has %d", kind, n, len(sizes))
	}
	data = data[12:]
	if len(data) < 8*len(sizes)+4 {
		return 0, nil, errTrunc
	}
	total := 0
	for i, n := range sizes {
		if got := binary.LittleEndian.Uint64(data[8*i:]); got != uint64(n) {
			return 0, nil, fmt.Errorf("optim: %s state has %d values for parameter %d, optimizer has %d", kind, got, i, n)
		}
		total += n
	}
	data = data[8*len(sizes):]
	if got := binary.LittleEndian.Uint32(data); uint64(got) != uint64(nbuf) {
		return 0, nil, fmt.Errorf("optim: %s state has %d buffers per parameter, optimizer has %d (were the options different?)", kind, got, nbuf)
	}
	data = data[4:]
	if want := 4 * total * nbuf; len(data) != want {
		return 0, nil, fmt.Errorf("optim: %s state has %d bytes of buffers, want %d (truncated or corrupt)", kind, len(data), want)
	}
	buffers = make([][][]float32, nbuf)
	for k := range buffers {
		buffers[k] = make([][]float32, len(sizes))
		for i, n := range sizes {
			t := make([]float32, n)
			for j := range t {
				t[j] = math.Float32frombits(binary.LittleEndian.Uint32(data))
				data = data[4:]
			}
			buffers[k][i] = t
		}
	}
	return steps, buffers, nil
}

// zeros returns one zero buffer per parameter size.
func zeros(sizes []int) [][]float32 {
	b := make([][]float32, len(sizes))
	for i, n := range sizes {
		b[i] = make([]float32, n)
	}
	return b
}

// eachRange runs body over [0,n), split over the CPUs when n is large
// enough to pay for the goroutines: an update is elementwise, so the result
// does not depend on the split.
func eachRange(n int, body func(lo, hi int)) {
	const minChunk = 1 << 16
	workers := min(runtime.GOMAXPROCS(0), n/minChunk)
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(w*n/workers, (w+1)*n/workers)
		}()
	}
	wg.Wait()
}
