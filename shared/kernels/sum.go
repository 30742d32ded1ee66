package kernels

import "unsafe"

// Sum64 is the float64 sum of v. Sixteen running sums, element i in sum
// i%16, are combined at the end in the order sumLanes gives; the AVX2
// kernel converts and adds 16 floats at a time in that order, so both
// give the same bits. Batch norm's statistics and gradients sum millions
// of float32 terms this way.
func Sum64(v []float32) float64 {
	var s float64
	if vec := len(v) &^ 15; fast && vec > 0 {
		s = sum64AVX2(&v[0], vec)
		v = v[vec:]
	} else if vec > 0 {
		s = sum64Go(v[:vec])
		v = v[vec:]
	}
	for _, x := range v {
		s += float64(x)
	}
	return s
}

// Dot64 is the float64 dot product of u and v (as long as u at least),
// in Sum64's order. The product of two float32s is exact in float64, so
// the kernel's fused multiply-adds round as the twin's multiply and add.
func Dot64(u, v []float32) float64 {
	v = v[:len(u)]
	var s float64
	if vec := len(u) &^ 15; fast && vec > 0 {
		s = dot64AVX2(&u[0], &v[0], vec)
		u, v = u[vec:], v[vec:]
	} else if vec > 0 {
		s = dot64Go(u[:vec], v[:vec])
		u, v = u[vec:], v[vec:]
	}
	for i, x := range u {
		s += float64(x) * float64(v[i])
	}
	return s
}

// SumSq64 is the float64 sum of (v[i]-m)², the difference and its
// square each rounded to float64 (no fused multiply-add), in Sum64's
// order: batch norm's variance about the mean m.
func SumSq64(v []float32, m float64) float64 {
	var s float64
	if vec := len(v) &^ 15; fast && vec > 0 {
		s = sumSq64AVX2(&v[0], vec, m)
		v = v[vec:]
	} else if vec > 0 {
		s = sumSq64Go(v[:vec], m)
		v = v[vec:]
	}
	for _, x := range v {
		d := float64(x) - m
		s += float64(d * d)
	}
	return s
}

// sumSq64Go is sumSq64AVX2 in Go, for len(v) a multiple of 16.
func sumSq64Go(v []float32, m float64) float64 {
	var acc [16]float64
	for i := 0; i+16 <= len(v); i += 16 {
		for l, x := range v[i : i+16] {
			d := float64(x) - m
			acc[l] += float64(d * d)
		}
	}
	return sumLanes(&acc)
}

// sum64Go is the AVX2 kernel's loop in Go, for len(v) a multiple of 16.
func sum64Go(v []float32) float64 {
	var acc [16]float64
	for i := 0; i+16 <= len(v); i += 16 {
		for l, x := range v[i : i+16] {
			acc[l] += float64(x)
		}
	}
	return sumLanes(&acc)
}

// dot64Go is dot64AVX2 in Go, for len(u) a multiple of 16.
func dot64Go(u, v []float32) float64 {
	v = v[:len(u)]
	var acc [16]float64
	for i := 0; i+16 <= len(u); i += 16 {
		for l, x := range u[i : i+16] {
			acc[l] += float64(x) * float64(v[i+l])
		}
	}
	return sumLanes(&acc)
}

// sumLanes combines the 16 running sums as the kernels do: four registers
// of four lanes added pairwise, then the halves, then the last two.
func sumLanes(acc *[16]float64) float64 {
	var t [4]float64
	for l := range 4 {
		t[l] = (acc[l] + acc[4+l]) + (acc[8+l] + acc[12+l])
	}
	return (t[0] + t[2]) + (t[1] + t[3])
}

// sum64AVX2Go, dot64AVX2Go and sumSq64AVX2Go are the twins of the AVX2
// kernels, in their signatures.
func sum64AVX2Go(v *float32, n int) float64 { return sum64Go(unsafe.Slice(v, n)) }

func dot64AVX2Go(u, v *float32, n int) float64 {
	return dot64Go(unsafe.Slice(u, n), unsafe.Slice(v, n))
}

func sumSq64AVX2Go(v *float32, n int, m float64) float64 {
	return sumSq64Go(unsafe.Slice(v, n), m)
}
