package sgn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"sgn/shared/engine"
	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Config is an SGN's configuration, stored in its checkpoint.
type Config struct {
	Taps  []string `json:"taps"`  // tap points, "input" and/or backbone blocks
	Phi   string   `json:"phi"`   // sign | l2 | identity
	Label string   `json:"label"` // pred | true: the self-label in training; inference always uses pred
	Grad  string   `json:"grad"`  // exact | detached
	// Gate is "learned" or a fixed value for every gate.
	Gate string `json:"gate"`
	// GateBound bounds a learned gate: alpha = GateBound * tanh(a).
	GateBound float64 `json:"gate_bound"`
	// ProbeWeight weights the probe pass's own cross-entropy in the training
	// loss (0: not used).
	ProbeWeight float64 `json:"probe_weight"`
}

// DefaultConfig is the configuration -sgn gives without further flags.
func DefaultConfig() Config {
	return Config{Taps: []string{"input"}, Phi: "sign", Label: "pred", Grad: "exact", Gate: "learned", GateBound: 0.3}
}

// Validate checks the configuration against the backbone's tap points.
func (c Config) Validate(m model.Config) error {
	if len(c.Taps) == 0 {
		return fmt.Errorf("sgn: no tap points")
	}
	avail := m.Taps()
	seen := map[string]bool{}
	for _, t := range c.Taps {
		if !slices.Contains(avail, t) {
			return fmt.Errorf("sgn: %s has no tap point %q (have %s)", m.Arch, t, strings.Join(avail, ", "))
		}
		if seen[t] {
			return fmt.Errorf("sgn: tap point %q named twice", t)
		}
		seen[t] = true
	}
	if !slices.Contains([]string{"sign", "l2", "identity"}, c.Phi) {
		return fmt.Errorf("sgn: phi %q (have sign, l2, identity)", c.Phi)
	}
	if c.Label != "pred" && c.Label != "true" {
		return fmt.Errorf("sgn: self-label %q (have pred, true)", c.Label)
	}
	if c.Grad != "exact" && c.Grad != "detached" {
		return fmt.Errorf("sgn: gradient mode %q (have exact, detached)", c.Grad)
	}
	if _, _, err := c.gate(); err != nil {
		return err
	}
	if c.ProbeWeight < 0 || math.IsNaN(c.ProbeWeight) || math.IsInf(c.ProbeWeight, 0) {
		return fmt.Errorf("sgn: probe weight %v", c.ProbeWeight)
	}
	return nil
}

// gate reports whether gates are learned, and the fixed value otherwise.
func (c Config) gate() (learned bool, value float64, err error) {
	if c.Gate == "learned" {
		if !(c.GateBound > 0) || math.IsInf(c.GateBound, 0) {
			return false, 0, fmt.Errorf("sgn: learned gates need a positive bound, got %v", c.GateBound)
		}
		return true, 0, nil
	}
	v, err := strconv.ParseFloat(c.Gate, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return false, 0, fmt.Errorf("sgn: gate %q: want learned or a number", c.Gate)
	}
	return false, v, nil
}

// GateParam names the parameter of a tap's learned gate.
func GateParam(tap string) string { return "sgn.gate." + tap }

// Wrap adds the gate parameters of cfg to net (initialised at 0) when the
// gates are learned. It is called once when an SGN is created; a loaded
// checkpoint already has them.
func Wrap(net *model.Net, cfg Config) error {
	if err := cfg.Validate(net.Config); err != nil {
		return err
	}
	learned, _, _ := cfg.gate()
	if !learned {
		return nil
	}
	channels, err := tapChannels(net, cfg.Taps)
	if err != nil {
		return err
	}
	for _, t := range cfg.Taps {
		if net.Param(GateParam(t)) != nil {
			return fmt.Errorf("sgn: %s already has a gate at %s", net.Config.Arch, t)
		}
		net.Params = append(net.Params, &model.Param{Name: GateParam(t), Shape: []int{channels[t]}, Data: make([]float32, channels[t]), Trainable: true})
	}
	return nil
}

// tapChannels returns the channel count at each of taps.
func tapChannels(net *model.Net, taps []string) (map[string]int, error) {
	channels, err := net.Config.TapChannels()
	if err != nil {
		return nil, err
	}
	for _, t := range taps {
		if channels[t] == 0 {
			return nil, fmt.Errorf("sgn: tap point %s not reached", t)
		}
	}
	return channels, nil
}

// ForwardOption changes how an SGN is built into a graph, for attackers and
// diagnostics; the defaults are the model as trained.
type ForwardOption func(*forwardConfig)

type forwardConfig struct {
	grad string  // override exact/detached
	tau  float64 // > 0: sign replaced by tanh(s/tau)
}

// WithGradMode builds the self-gradient path as "exact" or "detached"
// whatever the model was trained with (an attacker's BPDA-style variant).
// The forward values are the same either way.
func WithGradMode(mode string) ForwardOption { return func(c *forwardConfig) { c.grad = mode } }

// WithSmoothSign replaces phi = sign by tanh(s/tau), a smooth surrogate for
// an attacker: sign has zero derivative almost everywhere.
func WithSmoothSign(tau float64) ForwardOption { return func(c *forwardConfig) { c.tau = tau } }

// Forward returns the ForwardFunc of an SGN with configuration cfg.
func Forward(cfg Config, opts ...ForwardOption) engine.ForwardFunc {
	fc := forwardConfig{grad: cfg.Grad}
	for _, o := range opts {
		o(&fc)
	}
	return func(b *model.Bound, x, y *G.Node, train bool) (engine.Output, error) {
		return build(cfg, fc, b, x, y, train)
	}
}

func build(cfg Config, fc forwardConfig, b *model.Bound, x, y *G.Node, train bool) (engine.Output, error) {
	if err := cfg.Validate(b.Net.Config); err != nil {
		return engine.Output{}, err
	}
	out := engine.Output{Extra: map[string]*G.Node{}}
	// Probe pass: record the tapped activations.
	taps := make(map[string]*G.Node, len(cfg.Taps))
	z0, _, err := b.Forward(x, train, func(name string, h *G.Node) (*G.Node, error) {
		if slices.Contains(cfg.Taps, name) {
			taps[name] = h
		}
		return h, nil
	})
	if err != nil {
		return out, fmt.Errorf("sgn probe pass: %w", err)
	}
	label := y
	if !train || cfg.Label == "pred" || y == nil {
		if label, err = ops.OneHotArgmax(z0); err != nil {
			return out, fmt.Errorf("sgn self-label: %w", err)
		}
	}
	probe, err := ops.SoftmaxCrossEntropyPerExample(z0, label)
	if err != nil {
		return out, fmt.Errorf("sgn probe loss: %w", err)
	}
	// Summing the per-example losses gives each example the gradient of its
	// own loss, independent of the batch size.
	probeSum, err := G.Sum(probe)
	if err != nil {
		return out, err
	}
	wrt := make(G.Nodes, len(cfg.Taps))
	for i, t := range cfg.Taps {
		if wrt[i] = taps[t]; wrt[i] == nil {
			return out, fmt.Errorf("sgn: tap point %s not reached", t)
		}
	}
	selfGrads, err := ops.Grad(probeSum, wrt...)
	if err != nil {
		return out, fmt.Errorf("sgn self-gradients: %w", err)
	}
	moves := make(map[string]*G.Node, len(cfg.Taps))
	for i, t := range cfg.Taps {
		s := selfGrads[i]
		out.Extra["selfgrad."+t] = s
		if fc.grad == "detached" {
			if s, err = ops.StopGradient(s); err != nil {
				return out, err
			}
		}
		d, err := phi(cfg.Phi, fc.tau, s)
		if err != nil {
			return out, fmt.Errorf("sgn phi at %s: %w", t, err)
		}
		alpha, err := gate(cfg, b, t, s.Shape()[1])
		if err != nil {
			return out, fmt.Errorf("sgn gate at %s: %w", t, err)
		}
		out.Extra["gate."+t] = alpha
		if moves[t], err = ops.ChannelScale(d, alpha); err != nil {
			return out, fmt.Errorf("sgn gate at %s: %w", t, err)
		}
	}
	// Response pass: each tapped activation moved along its self-gradient.
	logits, stats, err := b.Forward(x, train, func(name string, h *G.Node) (*G.Node, error) {
		m, ok := moves[name]
		if !ok {
			return h, nil
		}
		return ops.Add(h, m)
	})
	if err != nil {
		return out, fmt.Errorf("sgn response pass: %w", err)
	}
	out.Logits, out.Stats = logits, stats
	out.Extra["probe_logits"] = z0
	if train && cfg.ProbeWeight > 0 && y != nil {
		ce, err := ops.SoftmaxCrossEntropy(z0, y)
		if err != nil {
			return out, err
		}
		if out.AuxLoss, err = G.Mul(ce, constant(b.Dtype, cfg.ProbeWeight)); err != nil {
			return out, err
		}
	}
	return out, nil
}

func phi(kind string, tau float64, s *G.Node) (*G.Node, error) {
	switch kind {
	case "identity":
		return s, nil
	case "l2":
		return ops.UnitL2(s)
	}
	if tau > 0 {
		scaled, err := G.Mul(s, constant(s.Dtype(), 1/tau))
		if err != nil {
			return nil, err
		}
		return G.Tanh(scaled)
	}
	return ops.Sign(s)
}

// gate returns the per-channel gate of tap t as a node of shape [channels].
func gate(cfg Config, b *model.Bound, t string, channels int) (*G.Node, error) {
	learned, value, err := cfg.gate()
	if err != nil {
		return nil, err
	}
	if !learned {
		v := make([]float32, channels)
		for i := range v {
			v[i] = float32(value)
		}
		return G.NewTensor(b.Graph, b.Dtype, 1, G.WithShape(channels), G.WithName("sgn.fixedgate."+t), G.WithValue(denseOf(b.Dtype, v))), nil
	}
	a := b.Node(GateParam(t))
	if a == nil {
		return nil, fmt.Errorf("no parameter %s", GateParam(t))
	}
	if a.Shape()[0] != channels {
		return nil, fmt.Errorf("gate has %d channels, activation %d", a.Shape()[0], channels)
	}
	th, err := G.Tanh(a)
	if err != nil {
		return nil, err
	}
	return G.Mul(th, constant(b.Dtype, cfg.GateBound))
}

func constant(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float32 {
		return G.NewConstant(float32(v))
	}
	return G.NewConstant(v)
}

func denseOf(dt tensor.Dtype, v []float32) *tensor.Dense {
	if dt == tensor.Float32 {
		return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
	}
	d := make([]float64, len(v))
	for i, x := range v {
		d[i] = float64(x)
	}
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(d))
}
