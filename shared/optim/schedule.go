package optim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Schedule gives the learning rate of each step of a run.
type Schedule interface {
	// LR returns the learning rate for step, counted from 0, of a run of
	// total steps. Steps outside [0, total) are clamped into it.
	LR(step, total int) float64
}

// clampStep returns step clamped into [0, total) and total, as floats.
func clampStep(step, total int) (float64, float64) {
	total = max(total, 1)
	step = min(max(step, 0), total-1)
	return float64(step), float64(total)
}

type constant float64

func (c constant) LR(step, total int) float64 { return float64(c) }

// Constant returns a schedule that is lr throughout.
func Constant(lr float64) Schedule { return constant(lr) }

type stepDecay struct {
	lr, gamma  float64
	milestones []float64
}

func (s stepDecay) LR(step, total int) float64 {
	t, n := clampStep(step, total)
	lr := s.lr
	for _, m := range s.milestones {
		// The milestone is the first step at or past the fraction; the
		// slack keeps 0.1*30 = 3.0000000000000004 at step 3.
		if t >= math.Ceil(m*n*(1-1e-12)) {
			lr *= s.gamma
		}
	}
	return lr
}

// StepDecay returns a schedule that starts at lr and multiplies it by gamma
// at each milestone, given as a fraction of the run: with milestones 0.5 and
// 0.75 of 100 steps, steps 0–49 use lr, 50–74 lr·gamma, 75–99 lr·gamma².
func StepDecay(lr, gamma float64, milestones []float64) Schedule {
	return stepDecay{lr: lr, gamma: gamma, milestones: slices.Clone(milestones)}
}

type cosine struct {
	lr, min float64
	warmup  int
}

func (c cosine) LR(step, total int) float64 {
	t, n := clampStep(step, total)
	w := float64(c.warmup)
	if t < w {
		return c.lr * (t + 1) / w
	}
	frac := (t - w) / (n - w)
	return c.min + (c.lr-c.min)*(1+math.Cos(math.Pi*frac))/2
}

// Cosine returns a schedule that rises linearly from lr/warmup to lr over the
// first warmup steps and then follows half a cosine from lr down towards min
// over the remaining steps, as torch's CosineAnnealingLR with T_max equal to
// those steps (the last step is just above min).
func Cosine(lr, min float64, warmup int) Schedule {
	return cosine{lr: lr, min: min, warmup: max(warmup, 0)}
}

type oneCycle float64

func (c oneCycle) LR(step, total int) float64 {
	// As in Wong et al.'s code, step i is at time (i+1)/total of the run, so
	// the first step has a small positive rate and the last one reaches 0.
	t, n := clampStep(step, total)
	frac := (t + 1) / n
	const peak = 2.0 / 5
	if frac <= peak {
		return float64(c) * frac / peak
	}
	return float64(c) * (1 - frac) / (1 - peak)
}

// OneCycle returns the one-cycle schedule of "Fast is better than free"
// (Wong, Rice and Kolter, 2020): piecewise linear from 0 up to max at 2/5 of
// the run and back down to 0 at its end.
func OneCycle(max float64) Schedule { return oneCycle(max) }

// scheduleNames lists the specs ParseSchedule accepts, for its error messages.
const scheduleNames = `constant, step, step:GAMMA, step:GAMMA@M1,M2,..., cosine or cyclic`

// ParseSchedule returns the schedule named by spec with base learning rate lr:
//
//	constant             lr throughout
//	step                 StepDecay with gamma 0.1 at 0.5 and 0.75 of the run
//	step:GAMMA           StepDecay with gamma GAMMA at 0.5 and 0.75
//	step:GAMMA@M1,M2,... StepDecay with gamma GAMMA at the given fractions
//	cosine               Cosine from lr to 0 without warmup
//	cyclic               OneCycle peaking at lr
func ParseSchedule(spec string, lr float64) (Schedule, error) {
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return nil, fmt.Errorf("optim: learning rate %v is not a finite non-negative number", lr)
	}
	name, args, hasArgs := strings.Cut(spec, ":")
	if hasArgs && name != "step" {
		return nil, fmt.Errorf("optim: schedule %q takes no parameters", name)
	}
	switch name {
	case "constant":
		return Constant(lr), nil
	case "cosine":
		return Cosine(lr, 0, 0), nil
	case "cyclic":
		return OneCycle(lr), nil
	case "step":
		gamma, milestones := 0.1, []float64{0.5, 0.75}
		if hasArgs {
			var err error
			if gamma, milestones, err = parseStep(args, milestones); err != nil {
				return nil, fmt.Errorf("optim: schedule %q: %w", spec, err)
			}
		}
		return StepDecay(lr, gamma, milestones), nil
	}
	return nil, fmt.Errorf("optim: unknown schedule %q (want %s)", spec, scheduleNames)
}

// parseStep parses "GAMMA" or "GAMMA@M1,M2,...".
func parseStep(args string, milestones []float64) (float64, []float64, error) {
	g, ms, hasMs := strings.Cut(args, "@")
	gamma, err := strconv.ParseFloat(g, 64)
	if err != nil || !(gamma > 0) || math.IsInf(gamma, 0) {
		return 0, nil, fmt.Errorf("gamma %q is not a positive number", g)
	}
	if !hasMs {
		return gamma, milestones, nil
	}
	milestones = nil
	for _, f := range strings.Split(ms, ",") {
		m, err := strconv.ParseFloat(f, 64)
		if err != nil || !(m > 0 && m < 1) {
			return 0, nil, fmt.Errorf("milestone %q is not a fraction of the run in (0, 1)", f)
		}
		if len(milestones) > 0 && m <= milestones[len(milestones)-1] {
			return 0, nil, fmt.Errorf("milestones must increase (%v after %v)", m, milestones[len(milestones)-1])
		}
		milestones = append(milestones, m)
	}
	return gamma, milestones, nil
}
