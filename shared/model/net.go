package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one named parameter or buffer tensor of a Net.
type Param struct {
	Name      string
	Shape     []int
	Data      []float32
	Trainable bool // false for buffers such as batch-norm running statistics
	Decay     bool // weight decay applies (weights, not biases or norm parameters)
}

// Net is a network: its configuration and its parameters.
type Net struct {
	Config Config
	Params []*Param
}

type initKind int

const (
	// initUniform is PyTorch's default for conv and linear weights
	// (Kaiming uniform with a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
	// It trains the Madry CNN faster than He-normal, whose large initial
	// logits cost the first epoch several points.
	initUniform initKind = iota
	initZero
	initOne
)

type paramSpec struct {
	name   string
	shape  []int
	init   initKind
	fanIn  int
	buffer bool
	decay  bool
}

// New returns a network of the given configuration with freshly initialised
// parameters drawn from rng.
func New(cfg Config, rng *rand.Rand) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	specs := architectures[cfg.Arch].params(cfg)
	n := &Net{Config: cfg}
	for _, s := range specs {
		p := &Param{Name: s.name, Shape: s.shape, Data: make([]float32, shapeSize(s.shape)), Trainable: !s.buffer, Decay: s.decay}
		switch s.init {
		case initUniform:
			bound := 1 / math.Sqrt(float64(s.fanIn))
			for i := range p.Data {
				p.Data[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case initOne:
			for i := range p.Data {
				p.Data[i] = 1
			}
		}
		n.Params = append(n.Params, p)
	}
	return n, nil
}

// Param returns the parameter called name, or nil.
func (n *Net) Param(name string) *Param {
	for _, p := range n.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Trainable returns the parameters the optimiser updates, in order.
func (n *Net) Trainable() []*Param {
	var ps []*Param
	for _, p := range n.Params {
		if p.Trainable {
			ps = append(ps, p)
		}
	}
	return ps
}

// NumParams counts the trainable scalars.
func (n *Net) NumParams() int {
	total := 0
	for _, p := range n.Trainable() {
		total += len(p.Data)
	}
	return total
}

// Bound is a Net's parameters as nodes of one graph.
type Bound struct {
	Net   *Net
	Graph *G.ExprGraph
	Dtype tensor.Dtype
	nodes map[string]*G.Node
	// Trainable lists the nodes of the trainable parameters, in the order of
	// Net.Trainable, for G.Grad.
	Trainable G.Nodes
	norm      [2]*G.Node // fixed input normalisation, as a 1x1 convolution
}

// Bind creates a node for every parameter in g. For Float32 the node's value
// shares memory with Param.Data, so optimiser updates are seen by the graph
// without copying; for Float64 (used by gradient checks) it holds a copy.
func (n *Net) Bind(g *G.ExprGraph, dt tensor.Dtype) (*Bound, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("bind %s: dtype %v: want float32 or float64", n.Config.Arch, dt)
	}
	b := &Bound{Net: n, Graph: g, Dtype: dt, nodes: make(map[string]*G.Node, len(n.Params))}
	for _, p := range n.Params {
		node := G.NewTensor(g, dt, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(tensorOf(dt, p.Shape, p.Data)))
		b.nodes[p.Name] = node
		if p.Trainable {
			b.Trainable = append(b.Trainable, node)
		}
	}
	c := n.Config.InShape[0]
	w := make([]float32, c*c)
	bias := make([]float32, c)
	for i := 0; i < c; i++ {
		w[i*c+i] = 1 / n.Config.Std[i]
		bias[i] = -n.Config.Mean[i] / n.Config.Std[i]
	}
	b.norm[0] = G.NewTensor(g, dt, 4, G.WithShape(c, c, 1, 1), G.WithName("normalize.w"), G.WithValue(tensorOf(dt, []int{c, c, 1, 1}, w)))
	b.norm[1] = G.NewTensor(g, dt, 1, G.WithShape(c), G.WithName("normalize.b"), G.WithValue(tensorOf(dt, []int{c}, bias)))
	return b, nil
}

// Node returns the node bound to the named parameter.
func (b *Bound) Node(name string) *G.Node { return b.nodes[name] }

func tensorOf(dt tensor.Dtype, shape []int, data []float32) *tensor.Dense {
	if dt == tensor.Float32 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	d := make([]float64, len(data))
	for i, v := range data {
		d[i] = float64(v)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// Tap is called by Forward at each tap point with the activation there; it
// returns the activation the network continues with.
type Tap func(name string, h *G.Node) (*G.Node, error)

// BatchStat is a batch-norm layer's batch statistics in a training-mode
// graph, to be folded into its running statistics after a run.
type BatchStat struct {
	Layer     string
	Mean, Var *G.Node
	Count     int // values per channel the statistics were computed over
}

// Forward builds the network on input x ([N,C,H,W], pixel space) and returns
// the logits ([N,classes]). In training mode batch norm uses batch
// statistics, returned in stats so the caller can update running averages.
func (b *Bound) Forward(x *G.Node, train bool, tap Tap) (logits *G.Node, stats []BatchStat, err error) {
	shape := x.Shape()
	want := b.Net.Config.InShape
	if len(shape) != 4 || shape[1] != want[0] || shape[2] != want[1] || shape[3] != want[2] {
		return nil, nil, fmt.Errorf("%s takes inputs of shape [N %d %d %d], got %v", b.Net.Config.Arch, want[0], want[1], want[2], shape)
	}
	f := &forward{b: b, train: train, tapFn: tap}
	h, err := f.tap("input", x)
	if err != nil {
		return nil, nil, err
	}
	// Normalisation sits after the input tap: self-gradients and attacks
	// both live in pixel space.
	if h, err = ops.Conv2d(h, b.norm[0], 1, 0); err != nil {
		return nil, nil, fmt.Errorf("normalize: %w", err)
	}
	if h, err = ops.AddChannelBias(h, b.norm[1]); err != nil {
		return nil, nil, fmt.Errorf("normalize: %w", err)
	}
	logits, err = architectures[b.Net.Config.Arch].forward(f, h)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.Net.Config.Arch, err)
	}
	return logits, f.stats, nil
}
