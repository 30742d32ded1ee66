package train

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func parseFlags(t *testing.T, args ...string) *Flags {
	t.Helper()
	fs := flag.NewFlagSet("sgn-train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("o", "", "the tool's own flag")
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFlagsDefaults checks the defaults a command line gets, those stated
// in words in the help included, and that zero given is not zero unset.
func TestFlagsDefaults(t *testing.T) {
	tests := []struct {
		args     []string
		channels int
		check    func(Config) bool
		want     string
	}{
		{nil, 1, func(c Config) bool {
			return c.Arch == "madry-mnist" && c.Optimizer == "adam" && c.LR == 1e-3 && c.Momentum == 0 && c.WeightDecay == 0 && c.Eps == 0.3 && !c.Augment
		}, "madry-mnist, adam 1e-3, no momentum or decay, eps 0.3"},
		{nil, 3, func(c Config) bool {
			return c.Arch == "cifar-cnn" && c.Optimizer == "sgd" && c.Schedule == "cyclic" && c.Momentum == 0.9 && c.WeightDecay == 5e-4 && c.Eps == 8.0/255 && c.Augment
		}, "cifar-cnn, sgd cyclic, momentum 0.9, decay 5e-4, eps 8/255, augmented"},
		{[]string{"-wd", "0", "-momentum", "0"}, 3, func(c Config) bool { return c.WeightDecay == 0 && c.Momentum == 0 }, "-wd 0 and -momentum 0 kept"},
		{[]string{"-optimizer", "sgd", "-norm", "l2"}, 1, func(c Config) bool { return c.WeightDecay == 5e-4 && c.Eps == 2 }, "sgd's decay, L2 eps 2"},
		{[]string{"-sgn", "-sg-taps", "input,conv1"}, 1, func(c Config) bool { return c.SGN != nil && slices.Equal(c.SGN.Taps, []string{"input", "conv1"}) }, "an SGN on two taps"},
	}
	for _, tt := range tests {
		c, err := parseFlags(t, tt.args...).Config(tt.channels)
		if err != nil || !tt.check(c) {
			t.Errorf("%v on %d channels: %+v, %v; want %s", tt.args, tt.channels, c, err, tt.want)
		}
	}
	if _, err := parseFlags(t, "-sg-phi", "l2").Config(1); err == nil || !strings.Contains(err.Error(), "needs -sgn") {
		t.Errorf("-sg-phi without -sgn: %v, want a refusal", err)
	}
}

// TestResumeConflicts checks the rule for a resumed run: the command line
// that started it may be given again, with another -epochs and the tool's
// own flags, but not another setting.
func TestResumeConflicts(t *testing.T) {
	saved, err := parseFlags(t, "-adv", "pgd", "-lr", "0.01").Config(1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string // substrings of the conflicts, in flag order
	}{
		{[]string{"-adv", "pgd", "-lr", "0.01"}, nil},
		{[]string{"-epochs", "20", "-o", "other.sgn"}, nil},
		{[]string{"-adv", "pgd", "-steps", "40", "-wd", "0"}, nil}, // the defaults spelt out
		{[]string{"-lr", "0.1"}, []string{"-lr 0.1 (the run has 0.01)"}},
		{[]string{"-wd", "1e-4", "-sgn"}, []string{"-sgn true (the run has false)", "-wd 0.0001 (the run has 0)"}},
	}
	for _, tt := range tests {
		got := parseFlags(t, tt.args...).ResumeConflicts(saved, 1)
		if len(got) != len(tt.want) {
			t.Errorf("%v: conflicts %q, want %q", tt.args, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%v: conflicts %q, want %q", tt.args, got, tt.want)
			}
		}
	}
}

func TestDefaultEps(t *testing.T) {
	for _, tt := range []struct {
		channels int
		norm     string
		want     float64
	}{{1, "linf", 0.3}, {3, "linf", 8.0 / 255}, {1, "l2", 2}, {3, "l2", 0.5}, {1, "l1", 10}, {3, "l1", 12}} {
		if got := DefaultEps(tt.channels, tt.norm); got != tt.want {
			t.Errorf("DefaultEps(%d, %s) = %v, want %v", tt.channels, tt.norm, got, tt.want)
		}
	}
}
