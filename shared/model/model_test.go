package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	_ "sgn/shared/engine"
	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const classes = 5

// newNet returns a network of arch at the given input shape, with every
// parameter and buffer drawn from rng: weights as New draws them, biases,
// batch-norm parameters and running statistics away from their trivial
// initial values so that the checks see every term.
func newNet(t *testing.T, arch string, shape []int, rng *rand.Rand) *model.Net {
	t.Helper()
	c := shape[0]
	cfg := model.Config{Arch: arch, InShape: shape, Classes: classes, Mean: make([]float32, c), Std: make([]float32, c)}
	for i := range c {
		cfg.Mean[i], cfg.Std[i] = 0.4+0.1*float32(i), 0.3-0.05*float32(i)
	}
	net, err := model.New(cfg, rng)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, p := range net.Params {
		for i := range p.Data {
			switch {
			case strings.HasSuffix(p.Name, ".b"), strings.HasSuffix(p.Name, ".beta"):
				p.Data[i] = float32(0.05 * rng.NormFloat64())
			case strings.HasSuffix(p.Name, ".gamma"):
				p.Data[i] = float32(0.8 + 0.4*rng.Float64())
			case strings.HasSuffix(p.Name, ".running_mean"):
				p.Data[i] = float32(0.1 * rng.NormFloat64())
			case strings.HasSuffix(p.Name, ".running_var"):
				p.Data[i] = float32(0.5 + rng.Float64())
			}
		}
	}
	return net
}

// costGraph is one float64 graph of a scalar cost of a network on a fixed
// batch: the mean cross-entropy L (order 1) or ‖∂L/∂x‖² (order 2, a double
// backprop through the whole network), with, if asked, its gradients with
// respect to the input and some parameters.
type costGraph struct {
	b     *model.Bound
	x     []float64 // backing of the input node, perturbed in place
	m     G.VM
	cost  *G.Value
	grads map[string]*G.Value
}

func newCostGraph(t *testing.T, net *model.Net, x []float64, labels []int, batch int, train bool, order int, wrt []string) *costGraph {
	t.Helper()
	g := G.NewGraph()
	b, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	s := net.Config.InShape
	cg := &costGraph{b: b, x: slices.Clone(x), grads: map[string]*G.Value{}}
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(batch, s[0], s[1], s[2]), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(batch, s[0], s[1], s[2]), tensor.WithBacking(cg.x))))
	oh := make([]float64, batch*classes)
	for i, l := range labels {
		oh[i*classes+l] = 1
	}
	yn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(batch, classes), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(batch, classes), tensor.WithBacking(oh))))
	logits, _, err := b.Forward(xn, train, nil)
	if err != nil {
		t.Fatalf("Forward: %v", err)
	}
	cost, err := ops.SoftmaxCrossEntropy(logits, yn)
	if err != nil {
		t.Fatal(err)
	}
	if order == 2 {
		gx, err := ops.Grad(cost, xn)
		if err != nil {
			t.Fatalf("input gradient: %v", err)
		}
		if cost, err = G.Sum(G.Must(G.HadamardProd(gx[0], gx[0]))); err != nil {
			t.Fatal(err)
		}
	}
	cg.cost = new(G.Value)
	G.Read(cost, cg.cost)
	if len(wrt) > 0 {
		nodes := make(G.Nodes, len(wrt))
		for i, name := range wrt {
			if name == "input" {
				nodes[i] = xn
			} else if nodes[i] = b.Node(name); nodes[i] == nil {
				t.Fatalf("no parameter %s", name)
			}
		}
		grads, err := ops.Grad(cost, nodes...)
		if err != nil {
			t.Fatalf("Grad: %v", err)
		}
		for i, name := range wrt {
			v := new(G.Value)
			G.Read(grads[i], v)
			cg.grads[name] = v
		}
	}
	cg.m = G.NewTapeMachine(g)
	t.Cleanup(func() { cg.m.Close() })
	return cg
}

func (c *costGraph) run(t *testing.T) float64 {
	t.Helper()
	c.m.Reset()
	if err := c.m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	return (*c.cost).Data().(float64)
}

// values returns the backing of the input ("input") or of a parameter.
func (c *costGraph) values(name string) []float64 {
	if name == "input" {
		return c.x
	}
	return c.b.Node(name).Value().Data().([]float64)
}

func (c *costGraph) grad(name string) []float64 {
	return slices.Clone((*c.grads[name]).Data().([]float64))
}

const (
	fdStep = 1e-5
	// fdFloor: an entry's error is relative to the larger of its own size
	// and fdFloor times the largest entry of its tensor's gradient.
	fdFloor = 1e-3
)

// fdResult summarises a finite-difference check.
type fdResult struct {
	entries, extrapolated, kinks int
	maxRel                       float64
}

// checkEntries compares grad[i] for i in idx with central differences of
// eval as vals[i] moves. A mismatch at step h is re-measured by Richardson
// extrapolation from steps h and h/2, which removes the O(h²) error of a
// strongly curved cost (tiny-batch batch norm); if that still disagrees, it
// is extrapolated again from h/4 and h/8. When the two extrapolations
// disagree with each other the cost is not smooth within reach of the step
// (a ReLU or max-pool kink) and the entry is counted as a kink instead; when
// they agree, the analytic value must match them.
func checkEntries(t *testing.T, what string, vals []float64, idx []int, grad []float64, eval func() float64, tol float64, res *fdResult) {
	t.Helper()
	scale := 0.0
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(g))
	}
	rel := func(a, b float64) float64 {
		return math.Abs(a-b) / math.Max(math.Max(math.Abs(a), math.Abs(b)), fdFloor*scale+1e-300)
	}
	central := func(i int, h float64) float64 {
		x0 := vals[i]
		vals[i] = x0 + h
		lp := eval()
		vals[i] = x0 - h
		lm := eval()
		vals[i] = x0
		return (lp - lm) / (2 * h)
	}
	richardson := func(i int, h float64, fdh float64) float64 {
		return (4*central(i, h/2) - fdh) / 3
	}
	for _, i := range idx {
		res.entries++
		fd := central(i, fdStep)
		e := rel(grad[i], fd)
		if e > tol {
			res.extrapolated++
			fd = richardson(i, fdStep, fd)
			if e = rel(grad[i], fd); e > tol {
				r := richardson(i, fdStep/4, central(i, fdStep/4))
				if rel(fd, r) > tol {
					res.kinks++
					continue
				}
				fd, e = r, rel(grad[i], r)
			}
		}
		res.maxRel = math.Max(res.maxRel, e)
		if e > tol {
			t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g (relative error %.2g)", what, i, grad[i], fd, e)
		}
	}
}

// sample picks the entry of grad with the largest magnitude and k-1 others
// at random.
func sample(grad []float64, k int, rng *rand.Rand) []int {
	best := 0
	for i, g := range grad {
		if math.Abs(g) > math.Abs(grad[best]) {
			best = i
		}
	}
	idx := []int{best}
	for _, i := range rng.Perm(len(grad)) {
		if len(idx) == min(k, len(grad)) {
			break
		}
		if i != best {
			idx = append(idx, i)
		}
	}
	return idx
}

type gradCase struct {
	arch    string
	shape   []int
	batch   int
	train   bool
	order   int
	tensors int // parameter tensors checked, evenly spaced (0: all)
	entries int // entries checked per tensor
	tol     float64
}

func (c gradCase) name() string {
	mode := "eval"
	if c.train {
		mode = "train"
	}
	return fmt.Sprintf("%s/%s/order%d", c.arch, mode, c.order)
}

// TestGradients checks, for every architecture, the gradient of a
// cross-entropy loss with respect to the input and to a sample of parameter
// entries (order 1), and the gradient with respect to parameters of the
// squared norm of the input gradient (order 2, double backprop), against
// central finite differences in float64.
func TestGradients(t *testing.T) {
	mlp := []int{1, 4, 4}
	mnist := []int{1, 8, 8}
	cifar := []int{3, 8, 8}
	cases := []gradCase{
		{arch: "mlp", shape: mlp, batch: 2, order: 1, entries: 4, tol: 1e-6},
		{arch: "mlp", shape: mlp, batch: 2, order: 2, entries: 4, tol: 1e-6},
		{arch: "madry-mnist", shape: mnist, batch: 2, order: 1, entries: 4, tol: 1e-6},
		{arch: "madry-mnist", shape: mnist, batch: 2, order: 2, entries: 4, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, order: 1, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, order: 2, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, train: true, order: 1, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, train: true, order: 2, entries: 3, tol: 1e-6},
		{arch: "preact-resnet18", shape: cifar, batch: 3, order: 1, tensors: 6, entries: 2, tol: 1e-5},
		{arch: "preact-resnet18", shape: cifar, batch: 3, train: true, order: 1, tensors: 6, entries: 2, tol: 1e-5},
		{arch: "preact-resnet18", shape: cifar, batch: 3, order: 2, tensors: 4, entries: 2, tol: 1e-5},
		{arch: "preact-resnet18", shape: cifar, batch: 3, train: true, order: 2, tensors: 4, entries: 2, tol: 1e-5},
	}
	for ci, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci)+1, 11))
			net := newNet(t, c.arch, c.shape, rng)
			x := make([]float64, c.batch*c.shape[0]*c.shape[1]*c.shape[2])
			for i := range x {
				x[i] = rng.Float64()
			}
			labels := make([]int, c.batch)
			for i := range labels {
				labels[i] = rng.IntN(classes)
			}
			var names []string
			params := net.Trainable()
			step := 1
			if c.tensors > 0 {
				step = max(1, len(params)/c.tensors)
			}
			for i := 0; i < len(params); i += step {
				names = append(names, params[i].Name)
			}
			if last := params[len(params)-1].Name; names[len(names)-1] != last {
				names = append(names, last)
			}
			names = append(names, "input")
			analytic := newCostGraph(t, net, x, labels, c.batch, c.train, c.order, names)
			analytic.run(t)
			probe := newCostGraph(t, net, x, labels, c.batch, c.train, c.order, nil)
			eval := func() float64 { return probe.run(t) }
			var res fdResult
			for _, name := range names {
				g := analytic.grad(name)
				checkEntries(t, name, probe.values(name), sample(g, c.entries, rng), g, eval, c.tol, &res)
			}
			if res.kinks*5 > res.entries {
				t.Errorf("%d of %d entries near a kink: the check checks too little", res.kinks, res.entries)
			}
			t.Logf("%d tensors, %d entries (%d extrapolated, %d skipped at kinks), max relative error %.2g",
				len(names), res.entries, res.extrapolated, res.kinks, res.maxRel)
		})
	}
}
