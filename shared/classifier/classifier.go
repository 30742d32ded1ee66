// Package classifier is a trained model as the tools see it: a network, its
// optional self-gradient wrapping, and the training record, saved to and
// loaded from a checkpoint file. Every tool that loads a checkpoint goes
// through Load, so an SGN is always run as the whole SGN.
package classifier

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"

	"sgn/format/checkpoint"
	"sgn/shared/engine"
	"sgn/shared/model"
	"sgn/shared/optim"
	"sgn/shared/outfile"
	"sgn/shared/sgn"
)

// FormatName identifies the configuration layout inside a checkpoint.
const FormatName = "sgn-classifier/1"

// Classifier is a network ready to run.
type Classifier struct {
	Net *model.Net
	SGN *sgn.Config // nil for a plain network
	// Train is the training configuration and progress, as sgn-train wrote
	// it; opaque here.
	Train json.RawMessage
	// Sections are further checkpoint sections (optimizer and RNG state).
	Sections map[string][]byte
}

type savedConfig struct {
	Format string          `json:"format"`
	Model  model.Config    `json:"model"`
	SGN    *sgn.Config     `json:"sgn,omitempty"`
	Train  json.RawMessage `json:"train,omitempty"`
}

// Forward returns the forward pass tools must build: the SGN's when the
// model is one (with the attacker's options applied), the plain one
// otherwise.
func (c *Classifier) Forward(opts ...sgn.ForwardOption) engine.ForwardFunc {
	if c.SGN == nil {
		return engine.PlainForward
	}
	return sgn.Forward(*c.SGN, opts...)
}

// Describe is a one-line summary for messages.
func (c *Classifier) Describe() string {
	s := fmt.Sprintf("%s %v, %d classes, %d parameters", c.Net.Config.Arch, c.Net.Config.InShape, c.Net.Config.Classes, c.Net.NumParams())
	if c.SGN != nil {
		s += fmt.Sprintf(", SGN taps=%v phi=%s gate=%s grad=%s", c.SGN.Taps, c.SGN.Phi, c.SGN.Gate, c.SGN.Grad)
	}
	return s
}

// Recipe returns the training configuration the checkpoint records (the
// "config" of its training record, as JSON), or nil if it has none.
func (c *Classifier) Recipe() json.RawMessage {
	var rec struct {
		Config json.RawMessage `json:"config"`
	}
	if json.Unmarshal(c.Train, &rec) != nil || len(rec.Config) == 0 || string(rec.Config) == "null" {
		return nil
	}
	return rec.Config
}

// Checkpoint converts the classifier into a checkpoint.
func (c *Classifier) Checkpoint() (*checkpoint.Checkpoint, error) {
	cfg, err := json.Marshal(savedConfig{Format: FormatName, Model: c.Net.Config, SGN: c.SGN, Train: c.Train})
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	ck := &checkpoint.Checkpoint{Config: cfg, Sections: c.Sections}
	for _, p := range c.Net.Params {
		ck.Tensors = append(ck.Tensors, checkpoint.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	return ck, nil
}

// Save writes the classifier to path as package outfile does: atomically
// where path is a regular file, never replacing a device, a FIFO or a
// symbolic link.
func (c *Classifier) Save(path string) error {
	t, err := outfile.Inspect(path)
	if err != nil {
		return err
	}
	return c.SaveTo(t)
}

// SaveTo writes the classifier to an output inspected beforehand.
func (c *Classifier) SaveTo(t *outfile.Target) error {
	ck, err := c.Checkpoint()
	if err != nil {
		return err
	}
	return t.Write(func(w io.Writer) error { return checkpoint.Encode(w, ck) })
}

// Encode writes the classifier as a checkpoint to w.
func (c *Classifier) Encode(w io.Writer) error {
	ck, err := c.Checkpoint()
	if err != nil {
		return err
	}
	return checkpoint.Encode(w, ck)
}

// LoadFile reads a classifier from a checkpoint file.
func LoadFile(path string) (*Classifier, error) {
	ck, err := checkpoint.ReadFile(path, checkpoint.WithSizeFromConfig(maxPayload))
	if err != nil {
		return nil, err
	}
	c, err := FromCheckpoint(ck)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load reads a classifier from a checkpoint stream (e.g. stdin).
func Load(r io.Reader) (*Classifier, error) {
	return load(r, inputSize(r))
}

// inputSize is the size of r when it is a regular file, else 0: unknown.
func inputSize(r io.Reader) int64 {
	if f, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// load is Load, told the input's size (0: unknown).
func load(r io.Reader, size int64) (*Classifier, error) {
	ck, err := checkpoint.Decode(r, checkpoint.WithSizeFromConfig(maxPayload), checkpoint.WithInputSize(size))
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(ck)
}

// LoadSum is Load that also returns the SHA-256 of all r holds, read to
// its end, as sha256sum prints it for the checkpoint's file: how attack
// streams name the model they were made against.
func LoadSum(r io.Reader) (*Classifier, []byte, error) {
	h := sha256.New()
	c, err := load(io.TeeReader(r, h), inputSize(r))
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.Copy(h, r); err != nil {
		return nil, nil, err
	}
	return c, h.Sum(nil), nil
}

// sectionSlack is room in a checkpoint for the sections besides the
// optimizer's state: the RNG state (a few dozen bytes) and their names.
const sectionSlack = 64 << 10

// maxPayload is the largest checkpoint payload a configuration can need:
// itself, the tensors of its network and the optimizer's state for them.
// Load and LoadFile refuse a checkpoint that declares more before reading
// it, so a small file claiming gigabytes costs what its model would.
func maxPayload(config json.RawMessage) (int64, error) {
	_, net, err := layout(config)
	if err != nil {
		return 0, err
	}
	size := 8 + len(config) + 4 + 4 + sectionSlack
	var trainable []int
	for _, p := range net.Params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		size += 4 + len(p.Name) + 4 + 8*len(p.Shape) + 8 + 4*n
		if p.Trainable {
			trainable = append(trainable, n)
		}
	}
	return int64(size + optim.MaxStateSize(trainable)), nil
}

// layout reads a checkpoint's configuration and returns the network it
// describes, every parameter named and shaped but without data: what the
// checkpoint must hold, known before anything is allocated for it.
func layout(config json.RawMessage) (savedConfig, *model.Net, error) {
	var cfg savedConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("checkpoint configuration: %w", err)
	}
	if cfg.Format != FormatName {
		return cfg, nil, fmt.Errorf("checkpoint configuration format %q, want %q", cfg.Format, FormatName)
	}
	params, err := cfg.Model.Params()
	if err != nil {
		return cfg, nil, fmt.Errorf("checkpoint model: %w", err)
	}
	net := &model.Net{Config: cfg.Model, Params: params}
	if cfg.SGN != nil {
		if err := sgn.Wrap(net, *cfg.SGN); err != nil {
			return cfg, nil, fmt.Errorf("checkpoint: %w", err)
		}
	}
	return cfg, net, nil
}

// FromCheckpoint rebuilds a classifier, checking that the checkpoint holds
// exactly the parameters its architecture needs, with the right shapes and
// finite values. The network is made of the checkpoint's own tensors, and
// only once they are known to fit its configuration.
func FromCheckpoint(ck *checkpoint.Checkpoint) (*Classifier, error) {
	cfg, net, err := layout(ck.Config)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(net.Params))
	for _, p := range net.Params {
		want[p.Name] = true
		t, ok := ck.Tensor(p.Name)
		if !ok {
			return nil, fmt.Errorf("checkpoint lacks parameter %s of %s", p.Name, cfg.Model.Arch)
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("checkpoint parameter %s has shape %v, %s needs %v", p.Name, t.Shape, cfg.Model.Arch, p.Shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("checkpoint parameter %s holds %v at index %d", p.Name, v, i)
			}
		}
		p.Data = t.Data
	}
	for _, t := range ck.Tensors {
		if !want[t.Name] {
			return nil, fmt.Errorf("checkpoint has unexpected tensor %s for %s", t.Name, cfg.Model.Arch)
		}
	}
	return &Classifier{Net: net, SGN: cfg.SGN, Train: cfg.Train, Sections: ck.Sections}, nil
}
