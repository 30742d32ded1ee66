package train

import (
	"flag"
	"fmt"
	"strings"

	"sgn/shared/cli"
	"sgn/shared/sgn"
)

// Flags are a run's settings as command-line flags: their names, help and
// defaults (stated in words where they depend on the data or on other
// settings, and then filled in by Config.Defaults), and the rule for what
// a resumed run may change.
type Flags struct {
	fs                 *flag.FlagSet
	cfg                Config
	sgn                sgn.Config
	useSGN             bool
	taps               string
	momentum, wd       cli.OptionalNumber
	augment, noAugment bool
}

// NewFlags defines the run's settings on fs.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, sgn: sgn.DefaultConfig()}
	c, s := &f.cfg, &f.sgn
	fs.StringVar(&c.Arch, "arch", "", "architecture: mlp, madry-mnist, cifar-cnn, preact-resnet18 (default madry-mnist for 1-channel images, cifar-cnn otherwise)")
	fs.IntVar(&c.Epochs, "epochs", 10, "epochs")
	fs.IntVar(&c.Batch, "batch", 128, "batch size")
	fs.StringVar(&c.Optimizer, "optimizer", "", "sgd or adam (default adam for 1-channel images, sgd otherwise)")
	fs.Float64Var(&c.LR, "lr", 0, "learning rate (default 1e-3 for adam, 0.05 for sgd)")
	fs.StringVar(&c.Schedule, "schedule", "", "constant, step[:GAMMA@F1,F2], cosine, cyclic (default constant for adam, cyclic for sgd)")
	fs.Var(&f.momentum, "momentum", fmt.Sprintf("SGD momentum (default %g; adam has none)", sgdMomentum))
	fs.Var(&f.wd, "wd", fmt.Sprintf("weight decay (default 0 for adam, %g for sgd)", sgdWeightDecay))
	fs.StringVar(&c.Adv, "adv", "none", "adversarial training: none, fgsm (with random start), pgd, trades")
	fs.Var((*cli.Number)(&c.Eps), "eps", "perturbation budget in pixel units, a number or a fraction such as 8/255 (default 0.3 for 1-channel linf, 8/255 for colour; l2: 2 and 0.5)")
	fs.Float64Var(&c.Alpha, "alpha", 0, "attack step size (default 1.25*eps for fgsm, 2.5*eps/steps for pgd)")
	fs.IntVar(&c.Steps, "steps", 0, "attack steps for pgd and trades (default 40 for 1-channel, 10 otherwise)")
	fs.StringVar(&c.Norm, "norm", "linf", "perturbation norm: linf or l2")
	fs.Float64Var(&c.Beta, "beta", defaultBeta, "TRADES trade-off beta")
	fs.Float64Var(&c.EpsWarmup, "eps-warmup", 0, "ramp the training eps linearly from 0 over the first `EPOCHS` epochs")
	fs.IntVar(&c.Val, "val", 0, "hold out `N` examples and report clean and PGD accuracy on them every epoch")
	fs.IntVar(&c.ValSteps, "val-steps", defaultValSteps, "PGD steps of the per-epoch validation attack")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed: the same seed and data give the same checkpoint")
	fs.BoolVar(&f.noAugment, "no-augment", false, "disable random crop and flip (on by default for colour images)")
	fs.BoolVar(&f.augment, "augment", false, "force random crop and flip")
	fs.BoolVar(&f.useSGN, "sgn", false, "train a self-gradient network")
	fs.StringVar(&f.taps, "sg-taps", "input", "comma-separated SGN tap points: input and/or backbone blocks")
	fs.StringVar(&s.Phi, "sg-phi", s.Phi, "SGN phi: sign, l2 or identity")
	fs.StringVar(&s.Label, "sg-label", s.Label, "SGN self-label in training: pred or true")
	fs.StringVar(&s.Grad, "sg-grad", s.Grad, "SGN gradient path: exact or detached")
	fs.StringVar(&s.Gate, "sg-gate", s.Gate, "SGN gates: learned, or a fixed VALUE")
	fs.Float64Var(&s.GateBound, "sg-gate-bound", s.GateBound, "bound e of a learned gate e*tanh(a)")
	fs.Float64Var(&s.ProbeWeight, "sg-probe-weight", 0, "weight of the probe pass's own loss")
	return f
}

// set reports which flags the command line gave.
func (f *Flags) set() map[string]bool {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// Config returns the run the parsed command line describes for data of
// the given channels, with every default filled in. Its error is the
// user's: a setting out of range or flags that do not go together.
func (f *Flags) Config(channels int) (Config, error) {
	set := f.set()
	c := f.cfg
	switch {
	case f.augment:
		c.Augment = true
	case f.noAugment:
		c.Augment = false
	default:
		c.Augment = channels == 3
	}
	if f.useSGN {
		s := f.sgn
		s.Taps = strings.Split(f.taps, ",")
		c.SGN = &s
	} else {
		for _, name := range []string{"sg-taps", "sg-phi", "sg-label", "sg-grad", "sg-gate", "sg-gate-bound", "sg-probe-weight"} {
			if set[name] {
				return c, fmt.Errorf("-%s needs -sgn", name)
			}
		}
	}
	c.Defaults(channels)
	c.Momentum, c.WeightDecay = optimizerDefaults(c.Optimizer)
	if v, ok := f.momentum.Get(); ok {
		c.Momentum = v
	}
	if v, ok := f.wd.Get(); ok {
		c.WeightDecay = v
	}
	return c, c.Validate()
}

// ResumeConflicts returns, for a run resumed from one saved with
// settings saved, the flags of the command line that ask for another
// setting: a resumed run keeps its settings, and a flag that changed one
// would be silently ignored. Only -epochs may change (see Trainer.Extend).
// Giving the command line that started the run again is no conflict.
func (f *Flags) ResumeConflicts(saved Config, channels int) []string {
	want, _ := f.Config(channels)
	var changed []string
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "epochs" {
			return
		}
		a, mine := settingOf(fl.Name, want)
		if !mine {
			return // the tool's own flags: where the data and results go
		}
		if b, _ := settingOf(fl.Name, saved); a != b {
			changed = append(changed, fmt.Sprintf("-%s %v (the run has %v)", fl.Name, a, b))
		}
	})
	return changed
}

// settingOf is the part of a run's configuration that the flag name sets,
// in a comparable form, and whether the flag sets one.
func settingOf(name string, c Config) (any, bool) {
	sg := c.SGN
	if sg == nil {
		sg = &sgn.Config{}
	}
	switch name {
	case "arch":
		return c.Arch, true
	case "batch":
		return c.Batch, true
	case "optimizer":
		return c.Optimizer, true
	case "lr":
		return c.LR, true
	case "schedule":
		return c.Schedule, true
	case "momentum":
		return c.Momentum, true
	case "wd":
		return c.WeightDecay, true
	case "adv":
		return c.Adv, true
	case "eps":
		return c.Eps, true
	case "alpha":
		return c.Alpha, true
	case "steps":
		return c.Steps, true
	case "norm":
		return c.Norm, true
	case "beta":
		return c.Beta, true
	case "eps-warmup":
		return c.EpsWarmup, true
	case "val":
		return c.Val, true
	case "val-steps":
		return c.ValSteps, true
	case "seed":
		return c.Seed, true
	case "augment", "no-augment":
		return c.Augment, true
	case "sgn":
		return c.SGN != nil, true
	case "sg-taps":
		return strings.Join(sg.Taps, ","), true
	case "sg-phi":
		return sg.Phi, true
	case "sg-label":
		return sg.Label, true
	case "sg-grad":
		return sg.Grad, true
	case "sg-gate":
		return sg.Gate, true
	case "sg-gate-bound":
		return sg.GateBound, true
	case "sg-probe-weight":
		return sg.ProbeWeight, true
	}
	return nil, false
}
