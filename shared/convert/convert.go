// Package convert moves classifiers between sgn checkpoints and safetensors
// files laid out as the state_dict of the same model in PyTorch
// (pipelines/torch/models.py), so that a model trained by either can be
// run, attacked and trained further by the other.
//
// The layouts differ in three ways, all handled here: names (PyTorch's
// weight and bias for sgn's w, b, gamma and beta; preact-resnet18's fc
// is linear and its shortcut convolution shortcut.0, as in the PreAct
// ResNet-18 of the fast adversarial training code that most robustness
// work reuses; an SGN's backbone is under backbone. and its gates under
// gates.), dense weights (sgn stores [in, out], nn.Linear [out, in]), and
// batch norm's num_batches_tracked, which PyTorch keeps and sgn does not.
// Convolution weights ([out, in, kh, kw]) and batch-norm running
// statistics (biased mean, unbiased variance, momentum 0.1) are the same.
package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"sgn/format/safetensors"
	"sgn/shared/classifier"
	"sgn/shared/model"
	"sgn/shared/sgn"
)

// torchParam is where an sgn parameter lives in a PyTorch state_dict.
type torchParam struct {
	name      string
	shape     []int
	transpose bool   // a dense weight: sgn [in, out], PyTorch [out, in]
	bnCounter string // for a batch norm's running_var: the name of its num_batches_tracked
}

// torchLayout maps a network's parameters, in order, to PyTorch's names.
func torchLayout(net *model.Net, wrapped bool) []torchParam {
	out := make([]torchParam, 0, len(net.Params))
	for _, p := range net.Params {
		out = append(out, torchOf(net.Config.Arch, p, wrapped))
	}
	return out
}

func torchOf(arch string, p *model.Param, wrapped bool) torchParam {
	if tap, ok := strings.CutPrefix(p.Name, sgn.GateParam("")); ok {
		return torchParam{name: "gates." + tap, shape: p.Shape}
	}
	module, field := p.Name, ""
	if i := strings.LastIndexByte(p.Name, '.'); i >= 0 {
		module, field = p.Name[:i], p.Name[i+1:]
	}
	if arch == "preact-resnet18" {
		// The PreAct ResNet-18 everyone reuses names these so.
		switch {
		case module == "fc":
			module = "linear"
		case strings.HasSuffix(module, ".shortcut"):
			module += ".0"
		}
	}
	if wrapped {
		module = "backbone." + module
	}
	tp := torchParam{shape: p.Shape}
	switch field {
	case "w":
		field = "weight"
		if len(p.Shape) == 2 {
			tp.transpose = true
			tp.shape = []int{p.Shape[1], p.Shape[0]}
		}
	case "b", "beta":
		field = "bias"
	case "gamma":
		field = "weight"
	case "running_var":
		tp.bnCounter = module + ".num_batches_tracked"
	}
	tp.name = module + "." + field
	return tp
}

// ToSafetensors returns the weights of c (no optimiser state) as
// safetensors in PyTorch's layout, with the model, SGN and training
// configuration as metadata.
func ToSafetensors(c *classifier.Classifier) (*safetensors.File, error) {
	modelJSON, err := json.Marshal(c.Net.Config)
	if err != nil {
		return nil, fmt.Errorf("encode model configuration: %w", err)
	}
	f := &safetensors.File{Metadata: map[string]string{
		safetensors.KeyFormat: "pt",
		safetensors.KeyModel:  string(modelJSON),
	}}
	if c.SGN != nil {
		b, err := json.Marshal(c.SGN)
		if err != nil {
			return nil, fmt.Errorf("encode SGN configuration: %w", err)
		}
		f.Metadata[safetensors.KeySGN] = string(b)
	}
	if len(c.Train) > 0 {
		f.Metadata[safetensors.KeyTrain] = string(c.Train)
	}
	steps := trainedSteps(c.Train)
	for i, tp := range torchLayout(c.Net, c.SGN != nil) {
		p := c.Net.Params[i]
		data := p.Data
		if tp.transpose {
			data = transpose(data, p.Shape[0], p.Shape[1])
		}
		f.Tensors = append(f.Tensors, safetensors.Float32(tp.name, tp.shape, data))
		if tp.bnCounter != "" {
			f.Tensors = append(f.Tensors, safetensors.Int64(tp.bnCounter, []int{}, []int64{steps}))
		}
	}
	return f, nil
}

// trainedSteps reads the optimiser steps from a training record: what
// PyTorch's num_batches_tracked would count (sgn updates the running
// statistics once a step); 0 when unknown.
func trainedSteps(train json.RawMessage) int64 {
	var rec struct {
		Progress struct {
			Step int64 `json:"step"`
		} `json:"progress"`
	}
	if json.Unmarshal(train, &rec) != nil || rec.Progress.Step < 0 {
		return 0
	}
	return rec.Progress.Step
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols]
// matrix.
func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// FromSafetensors rebuilds a classifier from safetensors in PyTorch's
// layout. arch names the architecture when the metadata does not (and must
// agree with it when it does). Without the sgn.model metadata the input
// shape is the first of MNIST's [1 28 28] and CIFAR's [3 32 32] whose
// tensor shapes fit, the classes are read from the last layer, and the
// normalisation is none (mean 0, std 1): Note says so.
func FromSafetensors(f *safetensors.File, arch string) (c *classifier.Classifier, note string, err error) {
	var cfg model.Config
	raw, haveModel := f.Metadata[safetensors.KeyModel]
	if haveModel {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return nil, "", fmt.Errorf("metadata %s: %w", safetensors.KeyModel, err)
		}
		if arch != "" && arch != cfg.Arch {
			return nil, "", fmt.Errorf("metadata %s names architecture %s, not %s", safetensors.KeyModel, cfg.Arch, arch)
		}
		if err := cfg.Validate(); err != nil {
			return nil, "", fmt.Errorf("metadata %s: %w", safetensors.KeyModel, err)
		}
	}
	var sc *sgn.Config
	if raw, ok := f.Metadata[safetensors.KeySGN]; ok {
		sc = new(sgn.Config)
		if err := json.Unmarshal([]byte(raw), sc); err != nil {
			return nil, "", fmt.Errorf("metadata %s: %w", safetensors.KeySGN, err)
		}
	} else if hasPrefix(f, "gates.") || hasPrefix(f, "backbone.") {
		return nil, "", fmt.Errorf("tensors under backbone. or gates. are an SGN's, but metadata %s, its configuration, is missing", safetensors.KeySGN)
	}
	if !haveModel {
		if arch == "" {
			return nil, "", fmt.Errorf("metadata has no %s naming the architecture: give -arch (have %s)", safetensors.KeyModel, strings.Join(model.Archs(), ", "))
		}
		if cfg, err = inferConfig(f, arch, sc); err != nil {
			return nil, "", err
		}
		note = fmt.Sprintf("no %s metadata: %s %v, %d classes (from the tensor shapes), no input normalisation", safetensors.KeyModel, cfg.Arch, cfg.InShape, cfg.Classes)
	}
	net, err := newNet(cfg, sc)
	if err != nil {
		return nil, "", err
	}
	if problems := fill(net, sc != nil, f); len(problems) > 0 {
		return nil, "", fmt.Errorf("tensors do not fit %s %v with %d classes%s: %s", cfg.Arch, cfg.InShape, cfg.Classes, sgnSuffix(sc), strings.Join(problems, "; "))
	}
	c = &classifier.Classifier{Net: net, SGN: sc}
	if raw, ok := f.Metadata[safetensors.KeyTrain]; ok {
		if !json.Valid([]byte(raw)) {
			return nil, "", fmt.Errorf("metadata %s is not JSON", safetensors.KeyTrain)
		}
		c.Train = json.RawMessage(raw)
	}
	return c, note, nil
}

func sgnSuffix(sc *sgn.Config) string {
	if sc == nil {
		return ""
	}
	return fmt.Sprintf(" as an SGN at %s", strings.Join(sc.Taps, ","))
}

func hasPrefix(f *safetensors.File, prefix string) bool {
	for _, t := range f.Tensors {
		if strings.HasPrefix(t.Name, prefix) {
			return true
		}
	}
	return false
}

// newNet returns a network of cfg (wrapped as an SGN when sc is set) with
// its parameters named and shaped but without data, which fill takes from
// the file: a configuration that claims a large model costs nothing until
// the tensors are found to fit it.
func newNet(cfg model.Config, sc *sgn.Config) (*model.Net, error) {
	params, err := cfg.Params()
	if err != nil {
		return nil, err
	}
	net := &model.Net{Config: cfg, Params: params}
	if sc != nil {
		if err := sgn.Wrap(net, *sc); err != nil {
			return nil, err
		}
	}
	return net, nil
}

// fill copies the file's tensors into net and returns every problem found:
// missing, unexpected, misshapen or non-finite tensors.
func fill(net *model.Net, wrapped bool, f *safetensors.File) []string {
	var problems []string
	known := map[string]bool{}
	for i, tp := range torchLayout(net, wrapped) {
		p := net.Params[i]
		known[tp.name] = true
		if tp.bnCounter != "" {
			known[tp.bnCounter] = true
			if t, ok := f.Tensor(tp.bnCounter); ok && (t.DType != safetensors.I64 || len(t.Shape) != 0) {
				problems = append(problems, fmt.Sprintf("%s is %s %v, want an I64 scalar", t.Name, t.DType, t.Shape))
			}
		}
		t, ok := f.Tensor(tp.name)
		if !ok {
			problems = append(problems, "missing "+tp.name)
			continue
		}
		if !slices.Equal(t.Shape, tp.shape) {
			problems = append(problems, fmt.Sprintf("%s has shape %v, want %v", tp.name, t.Shape, tp.shape))
			continue
		}
		data, err := t.Float32s()
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if k := slices.IndexFunc(data, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }); k >= 0 {
			problems = append(problems, fmt.Sprintf("%s holds %v at index %d", tp.name, data[k], k))
			continue
		}
		if tp.transpose {
			data = transpose(data, tp.shape[0], tp.shape[1])
		}
		p.Data = data
	}
	for _, t := range f.Tensors {
		if !known[t.Name] {
			problems = append(problems, fmt.Sprintf("unexpected %s %v", t.Name, t.Shape))
		}
	}
	return problems
}

// inferConfig finds the configuration of arch whose parameters the file's
// tensors fit, trying MNIST's and CIFAR-10's input shapes.
func inferConfig(f *safetensors.File, arch string, sc *sgn.Config) (model.Config, error) {
	var best []string
	var bestCfg model.Config
	for _, shape := range [][]int{{1, 28, 28}, {3, 32, 32}} {
		c := shape[0]
		mean, std := make([]float32, c), make([]float32, c)
		for i := range std {
			std[i] = 1
		}
		cfg := model.Config{Arch: arch, InShape: shape, Classes: 10, Mean: mean, Std: std}
		net, err := newNet(cfg, sc)
		if err != nil {
			if cfg.Validate() != nil {
				continue // the architecture does not take this shape
			}
			return model.Config{}, err
		}
		// The last layer's bias gives the classes.
		last := torchOf(arch, net.Params[len(net.Params)-1-gates(sc)], sc != nil)
		if t, ok := f.Tensor(last.name); ok && len(t.Shape) == 1 && t.Shape[0] >= 2 && cfg.Classes != t.Shape[0] {
			cfg.Classes = t.Shape[0]
			if net, err = newNet(cfg, sc); err != nil {
				return model.Config{}, err
			}
		}
		problems := fill(net, sc != nil, f)
		if len(problems) == 0 {
			return cfg, nil
		}
		if best == nil || len(problems) < len(best) {
			best, bestCfg = problems, cfg
		}
	}
	if best == nil {
		return model.Config{}, fmt.Errorf("architecture %s takes neither [1 28 28] nor [3 32 32] inputs", arch)
	}
	return model.Config{}, fmt.Errorf("tensors do not fit %s %v with %d classes: %s", arch, bestCfg.InShape, bestCfg.Classes, strings.Join(best, "; "))
}

// gates counts the learned gate parameters an SGN appends after the
// backbone's.
func gates(sc *sgn.Config) int {
	if sc == nil || sc.Gate != "learned" {
		return 0
	}
	return len(sc.Taps)
}
