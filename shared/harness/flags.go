package harness

import (
	"flag"

	"sgn/shared/attack"
	"sgn/shared/cli"
)

// DefaultPGDSteps is -pgd's number of steps unless told otherwise: more
// than attack.PGD's own default, which suits adversarial training, since
// an evaluation should not stop short. The other attacks' defaults are
// their packages' (a zero count means the default there).
const DefaultPGDSteps = 20

// Options are an attack run as sgn-attack's command line gives it: one
// attack or a suite, and its settings.
type Options struct {
	// Attack is the attack chosen (fgsm, pgd, cw, apgd, fab or square),
	// or "" for Suite (SuiteStandard or SuiteSGN).
	Attack, Suite string
	Norm          attack.Norm
	// Eps is the budget when EpsSet; otherwise Prepare takes the model's
	// (see train.AttackEps).
	Eps                               float64
	EpsSet                            bool
	Steps, Queries, Restarts, Targets int // 0: the attack's or the suite's default
	Alpha                             float64
	Loss                              attack.Loss
	Targeted, NoRandomStart           bool
	// AllSteps attacks every example for every step of PGD and APGD, as
	// AutoAttack's reference does; otherwise an example stops at its
	// first misclassified iterate (attack.APGD.EarlyStop), where the
	// attack judges it on the model it attacks.
	AllSteps bool
	CWConst  float64
	CWSearch int
	Seed     uint64
	Batch    int
	Shard    Shard
	// SGGrad and Surrogate say how to differentiate an SGN's
	// self-gradient path; Transfer names the checkpoint a transfer attack
	// crafts on.
	SGGrad    string
	Surrogate float64
	Transfer  string
	Zstd      bool
}

// Flags are Options as command-line flags: their names, help and
// defaults, and the rules for which go together.
type Flags struct {
	o        Options
	eps      cli.OptionalNumber
	chosen   [6]bool // -fgsm, -pgd, -cw, -apgd, -fab, -square
	norm     string
	loss     string
	shard    string
	attackOf [6]string
}

// NewFlags defines the flags of an attack run on fs.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{attackOf: [6]string{"fgsm", "pgd", "cw", "apgd", "fab", "square"}}
	o := &f.o
	fs.Var(&f.eps, "eps", "perturbation budget in pixel units, a number or a fraction such as 8/255 (default: the model's training eps, else 0.3 for 1-channel, 8/255 for colour; l2: 2 and 0.5; l1: 10 and 12)")
	fs.BoolVar(&f.chosen[0], "fgsm", false, "fast gradient sign method (one step)")
	fs.BoolVar(&f.chosen[1], "pgd", false, "projected gradient descent (Madry et al.)")
	fs.BoolVar(&f.chosen[2], "cw", false, "Carlini-Wagner L2 (minimal perturbation; examples beyond -eps count as not broken)")
	fs.BoolVar(&f.chosen[3], "apgd", false, "auto-PGD (Croce and Hein), as in AutoAttack; with -targeted, APGD-T")
	fs.BoolVar(&f.chosen[4], "fab", false, "FAB-T, targeted fast adaptive boundary attack (minimal perturbation; beyond -eps counts as not broken)")
	fs.BoolVar(&f.chosen[5], "square", false, "Square attack, gradient-free, L-inf or L2")
	fs.StringVar(&o.Suite, "suite", "", "run a suite of attacks: standard (AutoAttack's) or sgn (standard plus SGN-aware attacks)")
	fs.StringVar(&f.norm, "norm", "linf", "threat model: linf, l2 or l1 (l1: pgd, apgd and suites)")
	fs.IntVar(&o.Steps, "steps", 0, "iterations (default pgd 20, apgd and fab 100, cw 1000, square 5000 queries; suites: of their gradient attacks)")
	fs.IntVar(&o.Queries, "queries", 0, "square's queries in a suite (default 5000)")
	fs.Float64Var(&o.Alpha, "alpha", 0, "pgd step size (default 2.5*eps/steps)")
	fs.IntVar(&o.Restarts, "restarts", 1, "random restarts (pgd, apgd; per target when targeted)")
	fs.StringVar(&f.loss, "loss", "", "loss: ce or cw (pgd, fgsm); ce, dlr or cw (apgd); default ce, dlr for -apgd -targeted")
	fs.BoolVar(&o.Targeted, "targeted", false, "pgd, apgd: aim at the most likely wrong classes in turn, each a restart")
	fs.IntVar(&o.Targets, "targets", 0, "target classes of targeted attacks and suites (default 9, as in AutoAttack)")
	fs.BoolVar(&o.NoRandomStart, "no-random-start", false, "pgd/fgsm: start at the clean example")
	fs.BoolVar(&o.AllSteps, "all-steps", false, "pgd, apgd and suites: attack every example for every step, as AutoAttack's reference does (default: an example stops at its first misclassified iterate; the same robust accuracy)")
	fs.Float64Var(&o.CWConst, "cw-const", 0, "cw: initial constant c (default 0.001, as Carlini and Wagner's code)")
	// attack.CW's default, stated as the flag package would state it.
	fs.IntVar(&o.CWSearch, "cw-search", 0, "cw: binary search steps over c (default 9)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.IntVar(&o.Batch, "batch", 128, "examples per batch")
	fs.StringVar(&f.shard, "shard", "0/1", "attack slice i of n (examples whose position % n == i)")
	fs.StringVar(&o.SGGrad, "sg-grad", "", "SGN: differentiate the self-gradient path exact (default) or detached (BPDA-style)")
	fs.Float64Var(&o.Surrogate, "sg-surrogate", 0, "SGN: replace phi=sign by tanh(s/`TAU`) for the attacker (-suite sgn: default 0.05)")
	fs.StringVar(&o.Transfer, "transfer", "", "craft on the surrogate checkpoint `FILE`, evaluate on -model (-suite sgn: its transfer attack)")
	fs.BoolVar(&o.Zstd, "zstd", false, "compress the output stream with zstd")
	return f
}

// Options returns the run the parsed command line describes, or a
// cli.UsageError for flags out of range or that do not go together.
func (f *Flags) Options() (Options, error) {
	o := f.o
	o.Norm, o.Loss = attack.Norm(f.norm), attack.Loss(f.loss)
	n := 0
	for i, c := range f.chosen {
		if c {
			o.Attack = f.attackOf[i]
			n++
		}
	}
	if o.Suite != "" {
		o.Attack = ""
		n++
	}
	is := func(names ...string) bool {
		for _, name := range names {
			if o.Attack == name {
				return true
			}
		}
		return false
	}
	switch {
	case n != 1:
		return o, cli.Usagef("choose exactly one attack: -fgsm, -pgd, -cw, -apgd, -fab, -square or -suite")
	case o.Norm != attack.Linf && o.Norm != attack.L2 && o.Norm != attack.L1:
		return o, cli.Usagef("-norm %q: want linf, l2 or l1", f.norm)
	case o.Norm == attack.L1 && is("fgsm", "cw", "fab", "square"):
		return o, cli.Usagef("-norm l1 is for -pgd, -apgd and suites")
	case o.Suite != "" && o.Suite != SuiteStandard && o.Suite != SuiteSGN:
		return o, cli.Usagef("-suite %q: want standard or sgn", o.Suite)
	case o.Targeted && !is("pgd", "apgd", "fab"):
		return o, cli.Usagef("-targeted is for -pgd and -apgd (-fab is always targeted, suites choose their own)")
	case o.Targets < 0 || (o.Targets > 0 && !o.Targeted && !is("fab") && o.Suite == ""):
		return o, cli.Usagef("-targets N (N >= 1) goes with -targeted, -fab or -suite")
	case o.AllSteps && o.Suite == "" && !is("pgd", "apgd"):
		return o, cli.Usagef("-all-steps is for -pgd, -apgd and suites")
	case o.Queries < 0 || (o.Queries > 0 && o.Suite == ""):
		return o, cli.Usagef("-queries goes with -suite (-square takes -steps)")
	case o.Suite != "" && (o.Loss != "" || o.Alpha != 0 || o.NoRandomStart || o.Restarts != 1 || o.SGGrad != ""):
		return o, cli.Usagef("a suite sets its own losses, steps, starts and restarts and SGN gradient paths: -loss, -alpha, -no-random-start, -restarts and -sg-grad do not apply")
	case o.Suite == SuiteStandard && (o.Transfer != "" || o.Surrogate > 0):
		return o, cli.Usagef("-transfer and -sg-surrogate belong to -suite sgn, not standard")
	}
	if o.Attack == "cw" {
		o.Norm = attack.L2
	}
	var err error
	if o.Shard, err = ParseShard(f.shard); err != nil {
		return o, cli.Usagef("%v", err)
	}
	if o.Batch < 1 || o.Restarts < 1 || o.Steps < 0 {
		return o, cli.Usagef("-batch and -restarts must be at least 1, -steps at least 0")
	}
	if o.SGGrad != "" && o.SGGrad != "exact" && o.SGGrad != "detached" {
		return o, cli.Usagef("-sg-grad %q: want exact or detached", o.SGGrad)
	}
	o.Eps, o.EpsSet = f.eps.Get()
	if o.Eps < 0 {
		return o, cli.Usagef("-eps %g: want a budget >= 0", o.Eps)
	}
	return o, nil
}

// earlyStop reports whether o's attack may stop an example at its first
// misclassified iterate: only where the model it crafts on classifies as
// the target does (the target itself, or an SGN's detached path, whose
// logits are the same); a transfer source or a smooth surrogate's
// mistakes do not break the target.
func (o Options) earlyStop() bool {
	return !o.AllSteps && o.Transfer == "" && o.Surrogate == 0
}

// single returns the attack of o, which is not a suite, with budget eps
// for images of shape (channels, height, width).
func (o Options) single(eps float64, shape []int) attack.Attack {
	loss := o.Loss
	if loss == "" && (o.Attack == "fgsm" || o.Attack == "pgd") {
		loss = attack.LossCE
	}
	switch o.Attack {
	case "fgsm":
		return attack.FGSM{Norm: o.Norm, Eps: eps, Alpha: o.Alpha, RandomStart: !o.NoRandomStart, Loss: loss}
	case "pgd":
		steps := o.Steps
		if steps == 0 {
			steps = DefaultPGDSteps
		}
		return attack.PGD{Norm: o.Norm, Eps: eps, Alpha: o.Alpha, Steps: steps, RandomStart: !o.NoRandomStart, Restarts: o.Restarts,
			Loss: loss, Targeted: o.Targeted, Targets: o.Targets, EarlyStop: o.earlyStop()}
	case "apgd":
		return attack.APGD{Norm: o.Norm, Eps: eps, Steps: o.Steps, Restarts: o.Restarts, Loss: loss, Targeted: o.Targeted, Targets: o.Targets,
			EarlyStop: o.earlyStop()}
	case "fab":
		return attack.FAB{Norm: o.Norm, Eps: eps, Steps: o.Steps, Targets: o.Targets, Restarts: o.Restarts}
	case "cw":
		return attack.CW{Eps: eps, MaxIter: o.Steps, BinarySteps: o.CWSearch, InitialConst: o.CWConst}
	case "square":
		return attack.Square{Norm: o.Norm, Eps: eps, Queries: o.Steps, Channels: shape[0], Height: shape[1], Width: shape[2]}
	}
	return nil
}
