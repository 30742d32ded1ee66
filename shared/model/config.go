package model

import (
	"fmt"
	"slices"
	"strings"
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
	if c.Classes < 2 || c.Classes > 100000 {
		return fmt.Errorf("architecture %s: %d classes", c.Arch, c.Classes)
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
	return nil
}

// Taps lists the tap points a network of this configuration offers, in the
// order Forward visits them. "input" is always first.
func (c Config) Taps() []string {
	return append([]string{"input"}, architectures[c.Arch].taps...)
}
