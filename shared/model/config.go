package model

import (
	"fmt"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Bounds on what a configuration may ask for, far above what the
// architectures are used for (preact-resnet18 on CIFAR-10 has 11 million
// parameters), so that a checkpoint's or a stream's claims cannot make a
// tool allocate without bound: Validate checks them before anything is
// allocated.
const (
	// MaxParams bounds a network's parameter and buffer values: 2^28,
	// 1 GiB of float32.
	MaxParams = 1 << 28
	// MaxInputSize bounds the values of one input example: 2^24, a
	// 1x4096x4096 image. It also keeps every size computed from the input
	// shape far from overflowing.
	MaxInputSize = 1 << 24
	// MaxClasses bounds the number of classes.
	MaxClasses = 100000
)

// Config describes a network; it is stored in every checkpoint.
type Config struct {
	Arch    string    `json:"arch"`
	InShape []int     `json:"in_shape"` // C, H, W
	Classes int       `json:"classes"`
	Mean    []float32 `json:"mean"` // per input channel, pixel space
	Std     []float32 `json:"std"`
}

// Archs lists the architectures New accepts.
func Archs() []string {
	names := make([]string, 0, len(architectures))
	for name := range architectures {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Validate checks that the configuration describes a network that can be
// built.
func (c Config) Validate() error {
	a, ok := architectures[c.Arch]
	if !ok {
		return fmt.Errorf("unknown architecture %q (have %s)", c.Arch, strings.Join(Archs(), ", "))
	}
	if len(c.InShape) != 3 || c.InShape[0] <= 0 || c.InShape[1] <= 0 || c.InShape[2] <= 0 {
		return fmt.Errorf("architecture %s: input shape %v is not C,H,W", c.Arch, c.InShape)
	}
	// Checked factor by factor, so that the product cannot overflow.
	if size := c.InShape[0]; size > MaxInputSize || c.InShape[1] > MaxInputSize/size || c.InShape[2] > MaxInputSize/(size*c.InShape[1]) {
		return fmt.Errorf("architecture %s: input shape %v has more than the %d values an input may have", c.Arch, c.InShape, MaxInputSize)
	}
	if c.Classes < 2 || c.Classes > MaxClasses {
		return fmt.Errorf("architecture %s: %d classes, want 2 to %d", c.Arch, c.Classes, MaxClasses)
	}
	if len(c.Mean) != c.InShape[0] || len(c.Std) != c.InShape[0] {
		return fmt.Errorf("architecture %s: normalisation has %d means and %d stds for %d channels", c.Arch, len(c.Mean), len(c.Std), c.InShape[0])
	}
	for _, s := range c.Std {
		if !(s > 0) {
			return fmt.Errorf("architecture %s: normalisation std %v must be positive", c.Arch, s)
		}
	}
	if a.accepts != nil {
		if err := a.accepts(c.InShape); err != nil {
			return fmt.Errorf("architecture %s: %w", c.Arch, err)
		}
	}
	// The input bound keeps each parameter's size within an int64; the
	// total is checked before any of it is allocated.
	n := 0
	for _, s := range a.params(c) {
		n += shapeSize(s.shape)
	}
	if n > MaxParams {
		return fmt.Errorf("architecture %s on %s inputs has %d parameters (%.3g GB of float32), more than the %d (%.3g GB) a model may have",
			c.Arch, dims(c.InShape), n, float64(n)*4/1e9, MaxParams, float64(MaxParams)*4/1e9)
	}
	return nil
}

// Params returns the parameters and buffers a network of this
// configuration has, in order, with their shapes but no data: what a
// checkpoint must hold, known before anything is allocated.
func (c Config) Params() ([]*Param, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	specs := architectures[c.Arch].params(c)
	params := make([]*Param, len(specs))
	for i, s := range specs {
		params[i] = &Param{Name: s.name, Shape: s.shape, Trainable: !s.buffer, Decay: s.decay}
	}
	return params, nil
}

// TapChannels returns the number of channels (features, after a dense
// layer) of the activation at each tap point. Like Activations it builds
// the network's graph on one example without any values, so it allocates
// nothing for the parameters or the activations.
func (c Config) TapChannels() (map[string]int, error) {
	channels := map[string]int{}
	_, err := c.dryRun(func(name string, h *G.Node) (*G.Node, error) {
		channels[name] = h.Shape()[1]
		return h, nil
	})
	if err != nil {
		return nil, err
	}
	return channels, nil
}

// Activations returns the number of values one example's forward pass
// computes (every layer's output, in evaluation mode): what a training
// step keeps for its backward pass, per example.
func (c Config) Activations() (int64, error) {
	return c.dryRun(nil)
}

// dryRun builds the network's forward pass on one example with valueless
// nodes, calling tap at each tap point, and returns the values the pass
// computes besides its inputs and parameters.
func (c Config) dryRun(tap Tap) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	g := G.NewGraph()
	b := &Bound{Net: &Net{Config: c}, Graph: g, Dtype: tensor.Float32, nodes: map[string]*G.Node{}}
	for _, s := range architectures[c.Arch].params(c) {
		b.nodes[s.name] = G.NewTensor(g, tensor.Float32, len(s.shape), G.WithShape(s.shape...), G.WithName(s.name))
	}
	ch := c.InShape[0]
	b.norm[0] = G.NewTensor(g, tensor.Float32, 4, G.WithShape(ch, ch, 1, 1), G.WithName("normalize.w"))
	b.norm[1] = G.NewTensor(g, tensor.Float32, 1, G.WithShape(ch), G.WithName("normalize.b"))
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, c.InShape[0], c.InShape[1], c.InShape[2]), G.WithName("x"))
	inputs := len(g.AllNodes())
	if _, _, err := b.Forward(x, false, tap); err != nil {
		return 0, err
	}
	var n int64
	for _, node := range g.AllNodes()[inputs:] {
		n += int64(node.Shape().TotalSize())
	}
	return n, nil
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// dims writes a shape as 1x28x28.
func dims(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, "x")
}

// Taps lists the tap points a network of this configuration offers, in the
// order Forward visits them. "input" is always first.
func (c Config) Taps() []string {
	return append([]string{"input"}, architectures[c.Arch].taps...)
}
