package optim

import (
	"math/rand/v2"
	"testing"
)

// MaxStateSize bounds every optimizer's state, and is Adam's exactly: a
// checkpoint reader relies on it to refuse oversized checkpoints.
func TestMaxStateSize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name  string
		opt   Optimizer
		exact bool
	}{
		{"sgd", NewSGD(testSizes), false},
		{"sgd momentum", NewSGD(testSizes, WithMomentum(0.9)), false},
		{"adam", NewAdam(testSizes), true},
	} {
		params := randTensors(r, testSizes, 1)
		if err := tc.opt.Step(params, randTensors(r, testSizes, 1), 0.1); err != nil {
			t.Fatal(err)
		}
		b, err := tc.opt.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if max := MaxStateSize(testSizes); len(b) > max || tc.exact && len(b) != max {
			t.Errorf("%s: state of %d bytes, MaxStateSize %d", tc.name, len(b), max)
		}
	}
}
