package rng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// magic starts every marshalled RNG state; the trailing digit is the format version.
const magic = "RNG1"

// pcgStateLen is the length of rand.PCG's marshalled state ("pcg:" and two uint64).
const pcgStateLen = 20

// An RNG is a seeded pseudo-random generator with exactly restorable state.
// It is not safe for concurrent use.
type RNG struct {
	seed uint64
	pcg  *rand.PCG
	rand *rand.Rand
}

// New returns an RNG seeded with seed.
func New(seed uint64) *RNG {
	s1 := splitmix64(seed)
	s2 := splitmix64(s1)
	pcg := rand.NewPCG(s1, s2)
	return &RNG{seed: seed, pcg: pcg, rand: rand.New(pcg)}
}

// Rand returns the generator to draw from. Its state is the RNG's state: draws
// from it advance the RNG, and UnmarshalBinary rewinds it.
func (r *RNG) Rand() *rand.Rand {
	return r.rand
}

// MarshalBinary returns the seed and the current position of the stream.
func (r *RNG) MarshalBinary() ([]byte, error) {
	st, err := r.pcg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("rng: marshal: %w", err)
	}
	b := make([]byte, 0, len(magic)+8+len(st))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint64(b, r.seed)
	return append(b, st...), nil
}

// UnmarshalBinary restores a state written by MarshalBinary. On error the RNG
// is left unchanged. A zero RNG may be the receiver.
func (r *RNG) UnmarshalBinary(data []byte) error {
	want := len(magic) + 8 + pcgStateLen
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return errors.New("rng: not an rng state (bad magic)")
	}
	if len(data) != want {
		return fmt.Errorf("rng: state has %d bytes, want %d", len(data), want)
	}
	var pcg rand.PCG
	if err := pcg.UnmarshalBinary(data[len(magic)+8:]); err != nil {
		return fmt.Errorf("rng: unmarshal: %w", err)
	}
	if r.pcg == nil {
		r.pcg = new(rand.PCG)
		r.rand = rand.New(r.pcg)
	}
	// Copy into the existing source so that a *rand.Rand obtained earlier
	// from Rand follows the restored state.
	*r.pcg = pcg
	r.seed = binary.LittleEndian.Uint64(data[len(magic):])
	return nil
}

// Split returns a new RNG whose stream is derived from r's seed and label
// only: it does not depend on how far r has been drawn, and different labels
// give independent streams.
func (r *RNG) Split(label string) *RNG {
	h := fnv.New64a()
	h.Write(binary.LittleEndian.AppendUint64(nil, r.seed))
	h.Write([]byte(label))
	return New(h.Sum64())
}

// Permutation returns a uniformly random permutation of 0..n-1 drawn from r
// with the Fisher-Yates shuffle. It reuses dst's storage when it is large
// enough.
func Permutation(r *RNG, n int, dst []int) []int {
	if cap(dst) < n {
		dst = make([]int, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.rand.IntN(i + 1)
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// splitmix64 scrambles a seed so that nearby seeds (0, 1, 2, ...) start PCG
// from unrelated states.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
