package gradcheck

import (
	"slices"
	"testing"

	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CostFunc builds a scalar cost of a bound network on the input x and the
// one-hot targets y.
type CostFunc func(b *model.Bound, x, y *G.Node) (*G.Node, error)

// Graph is a float64 graph of a scalar cost of a network on a fixed batch,
// with, when asked for, the gradients of the cost with respect to the input
// and some parameters. The input and the parameters can be changed in place
// (through Values) between runs.
type Graph struct {
	b     *model.Bound
	x     []float64 // backing of the input node
	m     G.VM
	cost  *G.Value
	grads map[string]*G.Value
}

// NewGraph binds net in float64 and builds cost on a copy of the input x (a
// batch of len(labels) examples of net's input shape) and on labels as
// one-hot targets over net's classes. Its gradients are taken with respect
// to each name of wrt: "input" or a parameter. The graph's machine is
// closed when the test ends.
func NewGraph(t testing.TB, net *model.Net, x []float64, labels []int64, cost CostFunc, wrt []string) *Graph {
	t.Helper()
	g := G.NewGraph()
	b, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	s := net.Config.InShape
	n, classes := len(labels), net.Config.Classes
	gr := &Graph{b: b, x: slices.Clone(x), grads: map[string]*G.Value{}}
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, s[0], s[1], s[2]), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(n, s[0], s[1], s[2]), tensor.WithBacking(gr.x))))
	oh := make([]float64, n*classes)
	for i, l := range labels {
		oh[i*classes+int(l)] = 1
	}
	yn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(n, classes), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(n, classes), tensor.WithBacking(oh))))
	c, err := cost(b, xn, yn)
	if err != nil {
		t.Fatalf("build the cost: %v", err)
	}
	gr.cost = new(G.Value)
	G.Read(c, gr.cost)
	if len(wrt) > 0 {
		nodes := make(G.Nodes, len(wrt))
		for i, name := range wrt {
			if name == "input" {
				nodes[i] = xn
			} else if nodes[i] = b.Node(name); nodes[i] == nil {
				t.Fatalf("no parameter %s", name)
			}
		}
		grads, err := ops.Grad(c, nodes...)
		if err != nil {
			t.Fatalf("Grad: %v", err)
		}
		for i, name := range wrt {
			v := new(G.Value)
			G.Read(grads[i], v)
			gr.grads[name] = v
		}
	}
	gr.m = G.NewTapeMachine(g)
	t.Cleanup(func() { gr.m.Close() })
	return gr
}

// Run runs the graph and returns the cost.
func (g *Graph) Run(t testing.TB) float64 {
	t.Helper()
	g.m.Reset()
	if err := g.m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	return (*g.cost).Data().(float64)
}

// Values returns the backing of the input ("input") or of a parameter, to
// be perturbed in place.
func (g *Graph) Values(name string) []float64 {
	if name == "input" {
		return g.x
	}
	return g.b.Node(name).Value().Data().([]float64)
}

// Grad returns a copy of the gradient with respect to name, as of the last
// run.
func (g *Graph) Grad(name string) []float64 {
	return slices.Clone((*g.grads[name]).Data().([]float64))
}
