package optim

import (
	"math"
	"strings"
	"testing"
)

type point struct {
	step, total int
	want        float64
}

func checkPoints(t *testing.T, name string, s Schedule, points []point) {
	t.Helper()
	for _, p := range points {
		if got := s.LR(p.step, p.total); math.Abs(got-p.want) > 1e-12*(1+math.Abs(p.want)) {
			t.Errorf("%s: LR(%d, %d) = %v, want %v", name, p.step, p.total, got, p.want)
		}
	}
}

func TestConstant(t *testing.T) {
	checkPoints(t, "constant", Constant(0.3), []point{{0, 10, 0.3}, {9, 10, 0.3}, {0, 1, 0.3}})
}

func TestStepDecay(t *testing.T) {
	s := StepDecay(0.2, 0.1, []float64{0.5, 0.75})
	checkPoints(t, "step", s, []point{
		{0, 100, 0.2}, {49, 100, 0.2}, {50, 100, 0.02}, {74, 100, 0.02},
		{75, 100, 0.002}, {99, 100, 0.002},
		{-5, 100, 0.2}, {150, 100, 0.002}, // clamped
		{1, 3, 0.2}, {2, 3, 0.02}, // milestones at 1.5 and 2.25: steps 2 and 3
	})
	// 0.1*30 is 3.0000000000000004 in floating point: the milestone is still step 3.
	checkPoints(t, "step 0.1 of 30", StepDecay(1, 0.5, []float64{0.1}), []point{{2, 30, 1}, {3, 30, 0.5}})
}

func TestCosine(t *testing.T) {
	const lr, lo = 1.0, 0.1
	// Independent form: (1+cos x)/2 = cos²(x/2).
	cos2 := func(frac float64) float64 { c := math.Cos(math.Pi * frac / 2); return lo + (lr-lo)*c*c }
	checkPoints(t, "cosine warmup", Cosine(lr, lo, 10), []point{
		{0, 110, 0.1}, {4, 110, 0.5}, {9, 110, 1}, // warmup
		{10, 110, 1}, {60, 110, 0.55}, {109, 110, cos2(0.99)},
		{5, 8, 0.6}, // warmup longer than the run
	})
	checkPoints(t, "cosine", Cosine(0.4, 0, 0), []point{
		{0, 4, 0.4}, {1, 4, 0.4 * math.Cos(math.Pi/8) * math.Cos(math.Pi/8)}, {2, 4, 0.2},
		{3, 4, 0.4 * math.Sin(math.Pi/8) * math.Sin(math.Pi/8)},
	})
}

// interp is numpy.interp for increasing xs, as in Wong et al.'s schedule.
func interp(x float64, xs, ys []float64) float64 {
	for i := 1; i < len(xs); i++ {
		if x <= xs[i] {
			return ys[i-1] + (ys[i]-ys[i-1])*(x-xs[i-1])/(xs[i]-xs[i-1])
		}
	}
	return ys[len(ys)-1]
}

func TestOneCycle(t *testing.T) {
	s := OneCycle(0.2)
	checkPoints(t, "one-cycle", s, []point{
		{0, 100, 0.005}, {39, 100, 0.2}, {69, 100, 0.1}, {99, 100, 0}, {0, 1, 0},
	})
	// Wong et al.: lr(t) = interp(t, [0, 2/5·epochs, epochs], [0, max, 0]) at
	// t = epoch + (i+1)/batches; here 10 epochs of 7 batches.
	const epochs, batches = 10, 7
	for e := range epochs {
		for i := range batches {
			tm := float64(e) + float64(i+1)/batches
			want := interp(tm, []float64{0, epochs * 2.0 / 5, epochs}, []float64{0, 0.2, 0})
			step := e*batches + i
			if got := s.LR(step, epochs*batches); math.Abs(got-want) > 1e-12 {
				t.Fatalf("LR(%d, %d) = %v, want %v", step, epochs*batches, got, want)
			}
		}
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec string
		want Schedule
	}{
		{"constant", Constant(0.1)},
		{"step", StepDecay(0.1, 0.1, []float64{0.5, 0.75})},
		{"step:0.5", StepDecay(0.1, 0.5, []float64{0.5, 0.75})},
		{"step:0.2@0.3,0.6,0.9", StepDecay(0.1, 0.2, []float64{0.3, 0.6, 0.9})},
		{"step:0.1@0.5", StepDecay(0.1, 0.1, []float64{0.5})},
		{"cosine", Cosine(0.1, 0, 0)},
		{"cyclic", OneCycle(0.1)},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, 0.1)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		for step := range 20 {
			if got, want := s.LR(step, 20), tt.want.LR(step, 20); got != want {
				t.Errorf("%q: LR(%d, 20) = %v, want %v", tt.spec, step, got, want)
			}
		}
	}
	// A custom step spec really changes the schedule.
	s, _ := ParseSchedule("step:0.5@0.25", 1)
	checkPoints(t, "step:0.5@0.25", s, []point{{4, 20, 1}, {5, 20, 0.5}, {19, 20, 0.5}})
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		spec string
		lr   float64
		want string
	}{
		{"", 0.1, "want constant, step"},
		{"linear", 0.1, "cyclic"},
		{"Constant", 0.1, "unknown schedule"},
		{"cosine:5", 0.1, "takes no parameters"},
		{"step:", 0.1, "gamma"},
		{"step:abc", 0.1, "gamma"},
		{"step:-0.1", 0.1, "gamma"},
		{"step:0.1@", 0.1, "milestone"},
		{"step:0.1@0.5,", 0.1, "milestone"},
		{"step:0.1@1.5", 0.1, "milestone"},
		{"step:0.1@0.75,0.5", 0.1, "increase"},
		{"constant", -1, "learning rate"},
		{"constant", math.Inf(1), "learning rate"},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec, tt.lr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q, %v) = %v, %v; want an error containing %q", tt.spec, tt.lr, s, err, tt.want)
		}
	}
}
