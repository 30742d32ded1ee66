package engine

import (
	"fmt"
	"math"
	"slices"

	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Output is what a forward pass built into a graph.
type Output struct {
	Logits *G.Node
	// Stats are the batch-norm statistics of a training-mode pass.
	Stats []model.BatchStat
	// AuxLoss, when not nil, is a scalar added to the training loss (an
	// SGN's weighted probe loss).
	AuxLoss *G.Node
	// Extra names further nodes a tool may read, e.g. an SGN's
	// self-gradients ("selfgrad.<tap>") and gates ("gate.<tap>").
	Extra map[string]*G.Node
}

// ForwardFunc builds a classifier on input x. y holds the target rows when
// the program has them (nil otherwise). A plain network's is
// (*model.Bound).Forward with no tap; a self-gradient network supplies its
// probe-and-response forward.
type ForwardFunc func(b *model.Bound, x, y *G.Node, train bool) (Output, error)

// PlainForward is the ForwardFunc of a network used as it is.
func PlainForward(b *model.Bound, x, y *G.Node, train bool) (Output, error) {
	logits, stats, err := b.Forward(x, train, nil)
	return Output{Logits: logits, Stats: stats}, err
}

// Loss names the loss a program differentiates.
type Loss string

const (
	CrossEntropy Loss = "ce"
	Margin       Loss = "cw" // Carlini-Wagner margin: max_{j!=y} z_j - z_y
)

// ParseLoss accepts "ce" and "cw".
func ParseLoss(s string) (Loss, error) {
	switch Loss(s) {
	case CrossEntropy, Margin:
		return Loss(s), nil
	}
	return "", fmt.Errorf("unknown loss %q (have ce, cw)", s)
}

// Program is a compiled graph with named inputs and outputs.
type Program struct {
	Net    *model.Net
	Batch  int
	graph  *G.ExprGraph
	vm     G.VM
	inputs map[string]*G.Node
	outs   map[string]*G.Node
	grads  G.Nodes // parameter gradients, in Net.Trainable order
	params G.Nodes // the nodes of every parameter of Net, for Hold
	stats  []model.BatchStat
	dtype  tensor.Dtype
	buf    map[string][]float32
	// reads holds a copy of every output, taken by a G.Read node as soon as
	// it is computed: the tape machine reuses buffers, so a node's own value
	// after the run may hold another node's data.
	reads map[*G.Node]*G.Value
	// cotangent is the source of a vector-Jacobian product's cotangent
	// (NewVJP), nil in other programs.
	cotangent *ops.CotangentSource
	// gradKeys and gradOut are ParamGrads' scratch keys and result.
	gradKeys []string
	gradOut  [][]float32
}

type config struct {
	dtype   tensor.Dtype
	forward ForwardFunc
	train   bool
	memory  int64 // bytes a program may need; <= 0: unknown
}

// Option configures a program.
type Option func(*config)

// WithFloat64 builds the program in float64, for gradient checks.
func WithFloat64() Option { return func(c *config) { c.dtype = tensor.Float64 } }

// WithForward replaces the plain forward pass, e.g. by an SGN's.
func WithForward(f ForwardFunc) Option { return func(c *config) { c.forward = f } }

// WithMemory sets the memory a program's forward pass may fill (default:
// the machine's, or its cgroup's limit); a program that cannot fit is
// refused when it is built.
func WithMemory(bytes int64) Option { return func(c *config) { c.memory = bytes } }

// WithTrainMode runs batch norm on batch statistics (as during training)
// instead of running averages.
func WithTrainMode() Option { return func(c *config) { c.train = true } }

func newProgram(net *model.Net, batch int, opts []Option) (*Program, *config, error) {
	if batch <= 0 {
		return nil, nil, fmt.Errorf("batch size %d", batch)
	}
	c := &config{dtype: tensor.Float32, forward: PlainForward, memory: machineMemory()}
	for _, o := range opts {
		o(c)
	}
	if err := fits(net, batch, c.memory); err != nil {
		return nil, nil, err
	}
	p := &Program{Net: net, Batch: batch, graph: G.NewGraph(), inputs: map[string]*G.Node{}, outs: map[string]*G.Node{}, dtype: c.dtype, buf: map[string][]float32{}, reads: map[*G.Node]*G.Value{}}
	return p, c, nil
}

func (p *Program) input(name string, shape ...int) *G.Node {
	size := 1
	for _, d := range shape {
		size *= d
	}
	var v *tensor.Dense
	if p.dtype == tensor.Float32 {
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, size)))
	} else {
		v = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float64, size)))
	}
	n := G.NewTensor(p.graph, p.dtype, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v))
	p.inputs[name] = n
	return n
}

func (p *Program) imageInput(name string) *G.Node {
	s := p.Net.Config.InShape
	return p.input(name, p.Batch, s[0], s[1], s[2])
}

func (p *Program) compile() error {
	watch := func(n *G.Node) {
		if n == nil || p.reads[n] != nil {
			return
		}
		v := new(G.Value)
		G.Read(n, v)
		p.reads[n] = v
	}
	for _, n := range p.outs {
		watch(n)
	}
	for _, n := range p.grads {
		watch(n)
	}
	for _, s := range p.stats {
		watch(s.Mean)
		watch(s.Var)
	}
	// Every op writes into the same buffer on each run; outputs are read
	// through the copies above, so nothing keeps a value across runs.
	if err := ops.ReuseOutputs(p.graph); err != nil {
		return fmt.Errorf("compile graph: %w", err)
	}
	// Gorgonia panics on some malformed graphs; a panic here is a bug in
	// this package, but it must reach the user as an error, not a trace.
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("compile graph: %v", r)
			}
		}()
		p.vm = G.NewTapeMachine(p.graph)
	}()
	return err
}

// Set copies data into the named input: "x" (images, N*C*H*W in [0,1]),
// "y" (targets as one-hot or soft label rows, N*K), and the inputs specific
// to a program ("xadv", "p").
func (p *Program) Set(name string, data []float32) error {
	n := p.inputs[name]
	if n == nil {
		return fmt.Errorf("program has no input %q", name)
	}
	switch d := n.Value().Data().(type) {
	case []float32:
		if len(data) != len(d) {
			return fmt.Errorf("input %s: %d values for shape %v", name, len(data), n.Shape())
		}
		copy(d, data)
	case []float64:
		if len(data) != len(d) {
			return fmt.Errorf("input %s: %d values for shape %v", name, len(data), n.Shape())
		}
		for i, v := range data {
			d[i] = float64(v)
		}
	}
	return nil
}

// SetLabels sets "y" to the one-hot rows of labels (len Batch; negative
// labels give zero rows, which contribute no loss, for padding).
func (p *Program) SetLabels(labels []int64) error {
	k := p.Net.Config.Classes
	oh := p.scratch("onehot", p.Batch*k)
	clear(oh)
	if len(labels) != p.Batch {
		return fmt.Errorf("%d labels for batch %d", len(labels), p.Batch)
	}
	for i, l := range labels {
		if l >= int64(k) {
			return fmt.Errorf("label %d out of range [0,%d)", l, k)
		}
		if l >= 0 {
			oh[i*k+int(l)] = 1
		}
	}
	return p.Set("y", oh)
}

func (p *Program) scratch(name string, n int) []float32 {
	b := p.buf[name]
	if cap(b) < n {
		b = make([]float32, n)
		p.buf[name] = b
	}
	return b[:n]
}

// Run executes the program once on the current inputs.
func (p *Program) Run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("run graph: %v", r)
		}
	}()
	p.vm.Reset()
	return p.vm.RunAll()
}

// Hold declares that the network's parameters stay as they are until
// release is called, so that the program keeps work that depends on them
// alone from one run to the next: the weights of fully connected layers
// packed for their products, which a PGD attack otherwise packs again for
// each of its steps. Changing the parameters while held makes the program
// compute with their old values. Holds nest; call each release once.
func (p *Program) Hold() (release func(), err error) {
	release, err = ops.Hold(p.graph, p.params...)
	if err != nil {
		return nil, fmt.Errorf("hold parameters: %w", err)
	}
	return release, nil
}

// Output returns the named output of the last run as float32 (a copy into a
// buffer the program reuses: valid until the next call with the same name).
func (p *Program) Output(name string) ([]float32, error) {
	n := p.outs[name]
	if n == nil {
		return nil, fmt.Errorf("program has no output %q", name)
	}
	return p.read(name, n)
}

// OutputShape returns the shape of the named output, batch dimension first.
func (p *Program) OutputShape(name string) ([]int, error) {
	n := p.outs[name]
	if n == nil {
		return nil, fmt.Errorf("program has no output %q", name)
	}
	return slices.Clone([]int(n.Shape())), nil
}

func (p *Program) value(n *G.Node) G.Value {
	if r := p.reads[n]; r != nil {
		return *r
	}
	return nil
}

func (p *Program) read(key string, n *G.Node) ([]float32, error) {
	v := p.value(n)
	if v == nil {
		return nil, fmt.Errorf("output %s has no value: run the program first", key)
	}
	switch d := v.Data().(type) {
	case []float32:
		out := p.scratch(key, len(d))
		copy(out, d)
		return out, nil
	case []float64:
		out := p.scratch(key, len(d))
		for i, x := range d {
			out[i] = float32(x)
		}
		return out, nil
	case float32:
		out := p.scratch(key, 1)
		out[0] = d
		return out, nil
	case float64:
		out := p.scratch(key, 1)
		out[0] = float32(d)
		return out, nil
	}
	return nil, fmt.Errorf("output %s: unexpected value %T", key, v.Data())
}

// Float64Output is Output without rounding to float32, for gradient checks.
func (p *Program) Float64Output(name string) ([]float64, error) {
	n := p.outs[name]
	if n == nil {
		return nil, fmt.Errorf("program has no output %q", name)
	}
	v := p.value(n)
	if v == nil {
		return nil, fmt.Errorf("output %s has no value: run the program first", name)
	}
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...), nil
	case float64:
		return []float64{d}, nil
	}
	return nil, fmt.Errorf("output %s is not float64", name)
}

// ParamGrads returns the gradient of the loss with respect to each trainable
// parameter after a run, in Net.Trainable order. The slices are the
// program's: valid until the next run or call, which overwrites them.
// A float32 program returns the copies it reads each gradient into as the
// run computes it; copying those again cost a madry-mnist train step 13 MB
// of memory traffic.
func (p *Program) ParamGrads() ([][]float32, error) {
	if p.grads == nil {
		return nil, fmt.Errorf("program computes no parameter gradients")
	}
	if p.gradKeys == nil {
		p.gradKeys = make([]string, len(p.grads))
		for i := range p.grads {
			p.gradKeys[i] = fmt.Sprintf("grad.%d", i)
		}
		p.gradOut = make([][]float32, len(p.grads))
	}
	for i, g := range p.grads {
		if v := p.value(g); v != nil {
			if d, ok := v.Data().([]float32); ok {
				p.gradOut[i] = d
				continue
			}
		}
		v, err := p.read(p.gradKeys[i], g)
		if err != nil {
			return nil, err
		}
		p.gradOut[i] = v
	}
	return p.gradOut, nil
}

// UpdateRunningStats folds the batch-norm statistics of the last run of a
// training-mode program into the network's running averages.
func (p *Program) UpdateRunningStats() error {
	for _, s := range p.stats {
		mean, err := p.float64s(s.Mean)
		if err != nil {
			return fmt.Errorf("batch norm %s: %w", s.Layer, err)
		}
		variance, err := p.float64s(s.Var)
		if err != nil {
			return fmt.Errorf("batch norm %s: %w", s.Layer, err)
		}
		if err := p.Net.FoldBatchStat(s.Layer, mean, variance, s.Count); err != nil {
			return err
		}
	}
	return nil
}

func (p *Program) float64s(n *G.Node) ([]float64, error) {
	v := p.value(n)
	if v == nil {
		return nil, fmt.Errorf("no value: run the program first")
	}
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out, nil
	case []float64:
		return d, nil
	}
	return nil, fmt.Errorf("unexpected value %T", v.Data())
}

// Close releases the program's machine.
func (p *Program) Close() error {
	if p.vm != nil {
		return p.vm.Close()
	}
	return nil
}

// frame is what every program starts with: the network bound into a new
// graph, the image input "x", an optional [batch, classes] input, and the
// forward pass on x.
type frame struct {
	p    *Program
	c    *config
	b    *model.Bound
	x, t *G.Node // t: the targets input, nil without one
	out  Output
}

// begin builds a frame. targets names the [batch, classes] input ("" for
// none); the forward pass sees it as its labels only when labels is set.
func begin(net *model.Net, batch int, opts []Option, targets string, labels bool) (*frame, error) {
	p, c, err := newProgram(net, batch, opts)
	if err != nil {
		return nil, err
	}
	f := &frame{p: p, c: c}
	if f.b, err = net.Bind(p.graph, p.dtype); err != nil {
		return nil, err
	}
	for _, q := range net.Params {
		p.params = append(p.params, f.b.Node(q.Name))
	}
	f.x = p.imageInput("x")
	var y *G.Node
	if targets != "" {
		f.t = p.input(targets, batch, net.Config.Classes)
		if labels {
			y = f.t
		}
	}
	if f.out, err = c.forward(f.b, f.x, y, c.train); err != nil {
		return nil, err
	}
	p.setOutputs(f.out)
	return f, nil
}

// NewLogits compiles x -> logits (output "logits").
func NewLogits(net *model.Net, batch int, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, opts, "", false)
	if err != nil {
		return nil, err
	}
	return f.p, f.p.compile()
}

func lossNode(loss Loss, logits, y *G.Node, perExample bool) (*G.Node, error) {
	switch {
	case loss == CrossEntropy && perExample:
		return ops.SoftmaxCrossEntropyPerExample(logits, y)
	case loss == CrossEntropy:
		return ops.SoftmaxCrossEntropy(logits, y)
	case loss == Margin && perExample:
		return paddedMargin(logits, y)
	case loss == Margin:
		per, err := paddedMargin(logits, y)
		if err != nil {
			return nil, err
		}
		return ops.Mean(per)
	}
	return nil, fmt.Errorf("unknown loss %q", loss)
}

// paddedMargin is the per-example margin loss times the sum of each target
// row, so that a zero row (padding) contributes no loss, as with
// cross-entropy; alone the margin would be max_j z_j there.
func paddedMargin(logits, y *G.Node) (*G.Node, error) {
	per, err := ops.MarginLossPerExample(logits, y, math.Inf(1))
	if err != nil {
		return nil, err
	}
	w, err := ops.SumPerExample(y)
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(per, w)
}

// NewInputGrad compiles (x, y) -> per-example loss ("loss", [N]), logits
// ("logits") and the gradient of the summed loss with respect to x
// ("grad"): each example's gradient is that of its own loss, whatever the
// batch size. y holds one-hot or soft target rows.
func NewInputGrad(net *model.Net, batch int, loss Loss, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, opts, "y", true)
	if err != nil {
		return nil, err
	}
	p, x := f.p, f.x
	per, err := lossNode(loss, f.out.Logits, f.t, true)
	if err != nil {
		return nil, err
	}
	total, err := G.Sum(per)
	if err != nil {
		return nil, fmt.Errorf("sum loss: %w", err)
	}
	grads, err := ops.Grad(total, x)
	if err != nil {
		return nil, fmt.Errorf("input gradient: %w", err)
	}
	p.outs["loss"], p.outs["grad"] = per, grads[0]
	return p, p.compile()
}

// NewTrainStep compiles (x, y) -> mean loss ("loss"), logits ("logits") and
// the gradient of the mean loss with respect to every trainable parameter,
// in training mode.
func NewTrainStep(net *model.Net, batch int, loss Loss, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, append([]Option{WithTrainMode()}, opts...), "y", true)
	if err != nil {
		return nil, err
	}
	p := f.p
	mean, err := lossNode(loss, f.out.Logits, f.t, false)
	if err != nil {
		return nil, err
	}
	if mean, err = withAux(mean, f.out.AuxLoss); err != nil {
		return nil, err
	}
	if p.grads, err = ops.Grad(mean, f.b.Trainable...); err != nil {
		return nil, fmt.Errorf("parameter gradients: %w", err)
	}
	p.outs["loss"] = mean
	return p, p.compile()
}

// NewTradesStep compiles the TRADES objective (Zhang et al. 2019):
// CE(f(x), y) + beta * KL(softmax f(x) || softmax f(xadv)), with inputs
// "x", "xadv", "y", outputs "loss", "logits" (of x), "adv_logits", and
// parameter gradients. Both passes run in training mode; the running
// statistics follow the clean pass.
func NewTradesStep(net *model.Net, batch int, beta float64, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, append([]Option{WithTrainMode()}, opts...), "y", true)
	if err != nil {
		return nil, err
	}
	p, b, y, out := f.p, f.b, f.t, f.out
	adv, err := f.c.forward(b, p.imageInput("xadv"), y, true)
	if err != nil {
		return nil, err
	}
	logits, advLogits := out.Logits, adv.Logits
	natural, err := ops.SoftmaxCrossEntropy(logits, y)
	if err != nil {
		return nil, err
	}
	// KL(P || Q) = CE(Q-logits, P) - CE(P-logits, P), with P = softmax f(x);
	// the gradient flows through P as well, as in TRADES.
	prob, err := ops.Softmax(logits)
	if err != nil {
		return nil, err
	}
	cross, err := ops.SoftmaxCrossEntropy(advLogits, prob)
	if err != nil {
		return nil, err
	}
	self, err := ops.SoftmaxCrossEntropy(logits, prob)
	if err != nil {
		return nil, err
	}
	kl, err := G.Sub(cross, self)
	if err != nil {
		return nil, err
	}
	robust, err := G.Mul(kl, G.NewConstant(scalar(p.dtype, beta)))
	if err != nil {
		return nil, err
	}
	total, err := G.Add(natural, robust)
	if err != nil {
		return nil, err
	}
	if total, err = withAux(total, out.AuxLoss); err != nil {
		return nil, err
	}
	if p.grads, err = ops.Grad(total, b.Trainable...); err != nil {
		return nil, fmt.Errorf("parameter gradients: %w", err)
	}
	p.outs["adv_logits"], p.outs["loss"] = advLogits, total
	return p, p.compile()
}

func scalar(dt tensor.Dtype, v float64) any {
	if dt == tensor.Float32 {
		return float32(v)
	}
	return v
}

func (p *Program) setOutputs(out Output) {
	p.outs["logits"], p.stats = out.Logits, out.Stats
	for name, n := range out.Extra {
		p.outs[name] = n
	}
}

// Outputs lists the names of the program's outputs.
func (p *Program) Outputs() []string {
	names := make([]string, 0, len(p.outs))
	for name := range p.outs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func withAux(loss, aux *G.Node) (*G.Node, error) {
	if aux == nil {
		return loss, nil
	}
	sum, err := G.Add(loss, aux)
	if err != nil {
		return nil, fmt.Errorf("add auxiliary loss: %w", err)
	}
	return sum, nil
}
