package attack

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestProjectL1 checks the projection onto the L1 ball and the box: the
// result is feasible, matches the soft-thresholding formula with a λ found
// independently by bisection, and satisfies the variational inequality of
// a Euclidean projection, (v - p)·(u - p) ≤ 0, against feasible points u
// (the clean point, box corners scaled into the ball, random points).
func TestProjectL1(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	var geo scratch
	for trial := range 300 {
		d := 1 + rng.IntN(15)
		if trial%25 == 0 {
			d = 784
		}
		x0 := borderInputs(rng, 1, d)
		v := make([]float32, d)
		for i := range v {
			v[i] = float32(float64(x0[i]) + rng.NormFloat64()*0.4)
		}
		eps := 0.05 + rng.Float64()*float64(d)*0.2
		p := append([]float32(nil), v...)
		projectL1(p, x0, eps, &geo)
		if l1 := dist(L1, p, x0, d, 0); l1 > eps*(1+1e-6)+1e-6 {
			t.Fatalf("trial %d: L1 distance %v > eps %v", trial, l1, eps)
		}
		for i, u := range p {
			if u < 0 || u > 1 {
				t.Fatalf("trial %d: coordinate %d is %v", trial, i, u)
			}
		}
		want := l1ByBisection(v, x0, eps)
		for i := range d {
			if math.Abs(float64(p[i])-want[i]) > 1e-5 {
				t.Fatalf("trial %d (d=%d) coordinate %d: got %v, bisection %v", trial, d, i, p[i], want[i])
			}
		}
		for range 20 {
			u := feasibleL1(rng, x0, eps)
			var ip float64
			for i := range d {
				ip += (float64(v[i]) - float64(p[i])) * (u[i] - float64(p[i]))
			}
			if ip > 1e-5 {
				t.Fatalf("trial %d: (v - p)·(u - p) = %v > 0 for a feasible u: not the projection", trial, ip)
			}
		}
	}
}

// l1ByBisection projects v onto the L1 ball of radius eps around x0 and
// the box by bisection on the threshold λ of
// y_i = x0_i + sign(v_i - x0_i)·clip(|v_i - x0_i| - λ, 0, room_i).
func l1ByBisection(v, x0 []float32, eps float64) []float64 {
	d := len(v)
	at := func(lambda float64) ([]float64, float64) {
		y := make([]float64, d)
		var s float64
		for i := range d {
			u := float64(v[i]) - float64(x0[i])
			room := 1 - float64(x0[i])
			if u < 0 {
				room = float64(x0[i])
			}
			m := math.Min(math.Max(math.Abs(u)-lambda, 0), room)
			s += m
			y[i] = float64(x0[i]) + math.Copysign(m, u)
		}
		return y, s
	}
	if y, s := at(0); s <= eps {
		return y
	}
	lo, hi := 0.0, 2.0
	for range 200 {
		mid := (lo + hi) / 2
		if _, s := at(mid); s > eps {
			lo = mid
		} else {
			hi = mid
		}
	}
	y, _ := at(hi)
	return y
}

// feasibleL1 returns a random point of the L1 ball of radius eps around x0
// within the box: a random box point pulled towards x0 until it fits.
func feasibleL1(rng *rand.Rand, x0 []float32, eps float64) []float64 {
	d := len(x0)
	u := make([]float64, d)
	var l1 float64
	for i := range d {
		switch rng.IntN(3) {
		case 0:
			u[i] = float64(x0[i])
		case 1:
			u[i] = float64(rng.IntN(2)) // a corner coordinate
		default:
			u[i] = rng.Float64()
		}
		l1 += math.Abs(u[i] - float64(x0[i]))
	}
	if l1 > eps {
		s := eps / l1
		for i := range d {
			u[i] = float64(x0[i]) + s*(u[i]-float64(x0[i]))
		}
	}
	return u
}

// TestSparseStep checks the L1 step: it moves the coordinates of the
// largest gradient magnitudes, by equal amounts summing to alpha, in the
// gradient's direction.
func TestSparseStep(t *testing.T) {
	g := []float32{0.1, -3, 0, 2, -0.5, 1, 0, 0.2, -2.5, 0.05}
	x := make([]float32, len(g))
	var geo scratch
	sparseStep(x, g, 0.6, 0.3, &geo) // threshold at the 7th smallest |g|: 2
	want := []float32{0, -0.2, 0, 0.2, 0, 0, 0, 0, -0.2, 0}
	for i := range want {
		if math.Abs(float64(x[i]-want[i])) > 1e-7 {
			t.Fatalf("step %v, want %v", x, want)
		}
	}
}
