package kernels

// Momentum takes one step of SGD with momentum mu (without Nesterov's
// correction) and L2 weight decay wd, at learning rate lr, on the
// parameters p with gradients g and momentum buffer b, in float64 as Go
// computes it without fused multiply-adds:
//
//	d := float64(g[i]) + wd*float64(p[i])
//	b[i] = float32(mu*float64(b[i]) + d)
//	p[i] = float32(float64(p[i]) - lr*float64(b[i]))
//
// g and b must be at least as long as p. The AVX2 kernel gives the same
// bits, four elements at a time.
func Momentum(p, g, b []float32, wd, mu, lr float64) {
	g, b = g[:len(p)], b[:len(p)]
	if vec := len(p) &^ 3; fast && vec > 0 {
		momentumAVX2(&p[0], &g[0], &b[0], vec, wd, mu, lr)
		p, g, b = p[vec:], g[vec:], b[vec:]
	}
	momentumGo(p, g, b, wd, mu, lr)
}

func momentumGo(p, g, b []float32, wd, mu, lr float64) {
	g, b = g[:len(p)], b[:len(p)]
	for i, pi := range p {
		d := float64(g[i]) + wd*float64(pi)
		bi := float32(mu*float64(b[i]) + d)
		b[i] = bi
		p[i] = float32(float64(pi) - lr*float64(bi))
	}
}
