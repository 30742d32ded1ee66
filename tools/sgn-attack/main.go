// Command sgn-attack crafts adversarial examples against a checkpoint and
// writes them as an attack stream for sgn-score.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/engine"
	"sgn/shared/harness"
	"sgn/shared/sgn"
	"sgn/shared/train"
)

const synopsis = `sgn-attack -fgsm|-pgd|-cw|-apgd|-fab|-square|-suite standard|sgn [flags] [-model FILE] [-data FILE] [-o FILE]

Attacks the examples of -data (or stdin) against the checkpoint -model (or
stdin) and writes an attack stream: the adversarial images with label,
index, clean_pred, adv_pred, linf, l2 and l1 columns and the attack in the
metadata, with the checkpoint's SHA-256 and training recipe. For an SGN the
attacker differentiates through the exact self-gradient path unless told
otherwise.

-suite standard runs AutoAttack's standard suite (Croce and Hein, 2020):
APGD-CE, APGD-T (targeted DLR loss, 9 target classes), FAB-T (9 target
classes) and Square (5,000 queries), each on the examples no attack before
it broke; L1 runs APGD-CE and APGD-T. The stream's broken_by column says
which attack broke each example. -suite sgn adds, for an SGN, APGD-CE
through the detached self-gradient path and through the smooth surrogate
tanh(s/TAU) of sign (-sg-surrogate, default 0.05), and APGD-CE transferred
from -transfer. A suite holds the examples of its shard in memory.

Progress goes to stderr: a bar with rate and time left at a terminal, one
line per attack otherwise.`

const examples = `  sgn-attack -pgd -data test.arrows < model.sgn | sgn-score
  sgn-attack -suite standard -eps 0.3 -model m.sgn -data test.arrows -o aa.arrows && sgn-score -md aa.arrows
  sgn-attack -suite sgn -transfer plain.sgn -eps 8/255 -model sgn.sgn -data test.arrows -o aa-sgn.arrows
  sgn-attack -apgd -targeted -model m.sgn -data test.arrows > apgd-t.arrows
  sgn-attack -fab -norm l2 -eps 2 -model m.sgn -data test.arrows > fab-t.arrows
  sgn-attack -apgd -norm l1 -eps 10 -model m.sgn -data test.arrows > apgd-l1.arrows
  sgn-attack -pgd -loss cw -restarts 5 -steps 100 -model m.sgn -data test.arrows -o pgd-cw.arrows
  sgn-attack -pgd -sg-grad detached -model sgn.sgn -data test.arrows > bpda.arrows
  sgn-attack -pgd -sg-surrogate 0.1 -model sgn.sgn -data test.arrows > smooth.arrows
  sgn-attack -square -eps 0.3 -model m.sgn -data test.arrows > square.arrows
  sgn-attack -pgd -transfer plain.sgn -model sgn.sgn -data test.arrows > transfer.arrows
  for i in 0 1; do sgn-attack -suite standard -shard $i/2 -model m.sgn -data test.arrows -o aa.$i.arrows & done`

func main() { cli.Main("sgn-attack", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-attack", synopsis, examples, stderr)
	var epsFlag cli.OptionalNumber
	fs.Var(&epsFlag, "eps", "perturbation budget in pixel units, a number or a fraction such as 8/255 (default: the model's training eps, else 0.3 for 1-channel, 8/255 for colour; l2: 2 and 0.5; l1: 10 and 12)")
	var (
		fgsm      = fs.Bool("fgsm", false, "fast gradient sign method (one step)")
		pgd       = fs.Bool("pgd", false, "projected gradient descent (Madry et al.)")
		cw        = fs.Bool("cw", false, "Carlini-Wagner L2 (minimal perturbation; examples beyond -eps count as not broken)")
		apgd      = fs.Bool("apgd", false, "auto-PGD (Croce and Hein), as in AutoAttack; with -targeted, APGD-T")
		fab       = fs.Bool("fab", false, "FAB-T, targeted fast adaptive boundary attack (minimal perturbation; beyond -eps counts as not broken)")
		square    = fs.Bool("square", false, "Square attack, gradient-free, L-inf or L2")
		suiteName = fs.String("suite", "", "run a suite of attacks: standard (AutoAttack's) or sgn (standard plus SGN-aware attacks)")
		modelPath = fs.String("model", "", "checkpoint `FILE` (default stdin)")
		dataPath  = fs.String("data", "", "example stream `FILE` (default stdin)")
		outPath   = fs.String("o", "", "output `FILE` (default stdout)")
		normName  = fs.String("norm", "linf", "threat model: linf, l2 or l1 (l1: pgd, apgd and suites)")
		steps     = fs.Int("steps", 0, "iterations (default pgd 20, apgd and fab 100, cw 1000, square 5000 queries; suites: of their gradient attacks)")
		queries   = fs.Int("queries", 0, "square's queries in a suite (default 5000)")
		alpha     = fs.Float64("alpha", 0, "pgd step size (default 2.5*eps/steps)")
		restarts  = fs.Int("restarts", 1, "random restarts (pgd, apgd; per target when targeted)")
		lossName  = fs.String("loss", "", "loss: ce or cw (pgd, fgsm); ce, dlr or cw (apgd); default ce, dlr for -apgd -targeted")
		targeted  = fs.Bool("targeted", false, "pgd, apgd: aim at the most likely wrong classes in turn, each a restart")
		targets   = fs.Int("targets", 0, "target classes of targeted attacks and suites (default 9, as in AutoAttack)")
		noStart   = fs.Bool("no-random-start", false, "pgd/fgsm: start at the clean example")
		cwConst   = fs.Float64("cw-const", 0.01, "cw: initial constant c")
		cwSteps   = fs.Int("cw-search", 9, "cw: binary search steps over c")
		seed      = fs.Uint64("seed", 1, "random seed")
		batch     = fs.Int("batch", 128, "examples per batch")
		shardSpec = fs.String("shard", "0/1", "attack slice i of n (examples whose position % n == i)")
		sgGrad    = fs.String("sg-grad", "", "SGN: differentiate the self-gradient path exact (default) or detached (BPDA-style)")
		surrogate = fs.Float64("sg-surrogate", 0, "SGN: replace phi=sign by tanh(s/`TAU`) for the attacker (-suite sgn: default 0.05)")
		transfer  = fs.String("transfer", "", "craft on the surrogate checkpoint `FILE`, evaluate on -model (-suite sgn: its transfer attack)")
		zstd      = fs.Bool("zstd", false, "compress the output stream with zstd")
	)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	chosen := 0
	for _, b := range []bool{*fgsm, *pgd, *cw, *apgd, *fab, *square, *suiteName != ""} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return cli.Usagef("choose exactly one attack: -fgsm, -pgd, -cw, -apgd, -fab, -square or -suite")
	}
	norm := attack.Norm(*normName)
	switch {
	case norm != attack.Linf && norm != attack.L2 && norm != attack.L1:
		return cli.Usagef("-norm %q: want linf, l2 or l1", *normName)
	case norm == attack.L1 && (*fgsm || *cw || *fab || *square):
		return cli.Usagef("-norm l1 is for -pgd, -apgd and suites")
	case *suiteName != "" && *suiteName != harness.SuiteStandard && *suiteName != harness.SuiteSGN:
		return cli.Usagef("-suite %q: want standard or sgn", *suiteName)
	case *targeted && !*pgd && !*apgd && !*fab:
		return cli.Usagef("-targeted is for -pgd and -apgd (-fab is always targeted, suites choose their own)")
	case *targets < 0 || (*targets > 0 && !*targeted && !*fab && *suiteName == ""):
		return cli.Usagef("-targets N (N >= 1) goes with -targeted, -fab or -suite")
	case *queries < 0 || (*queries > 0 && *suiteName == ""):
		return cli.Usagef("-queries goes with -suite (-square takes -steps)")
	case *suiteName != "" && (*lossName != "" || *alpha != 0 || *noStart || *restarts != 1 || *sgGrad != ""):
		return cli.Usagef("a suite sets its own losses, steps, starts and restarts and SGN gradient paths: -loss, -alpha, -no-random-start, -restarts and -sg-grad do not apply")
	case *suiteName == harness.SuiteStandard && (*transfer != "" || *surrogate > 0):
		return cli.Usagef("-transfer and -sg-surrogate belong to -suite sgn, not standard")
	}
	if *cw {
		norm = attack.L2
	}
	shard, err := harness.ParseShard(*shardSpec)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if *batch < 1 || *restarts < 1 || *steps < 0 {
		return cli.Usagef("-batch and -restarts must be at least 1, -steps at least 0")
	}
	if *sgGrad != "" && *sgGrad != "exact" && *sgGrad != "detached" {
		return cli.Usagef("-sg-grad %q: want exact or detached", *sgGrad)
	}
	v, given := epsFlag.Get()
	if v < 0 {
		return cli.Usagef("-eps %g: want a budget >= 0", v)
	}
	eps := cli.Number(v)

	modelIn, data, closeIn, err := cli.OpenInputs(*modelPath, *dataPath, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	// The report names the checkpoint by the SHA-256 of its file, as
	// sha256sum prints it.
	sum := sha256.New()
	target, err := classifier.Load(io.TeeReader(modelIn, sum))
	if err != nil {
		return fmt.Errorf("load model %s: %w", orStdin(*modelPath), err)
	}
	if _, err := io.Copy(sum, modelIn); err != nil {
		return fmt.Errorf("load model %s: %w", orStdin(*modelPath), err)
	}
	if !given {
		eps = cli.Number(train.AttackEps(target, string(norm)))
	}
	meta := map[string]string{
		stream.MetaModel:       target.Describe(),
		stream.MetaModelSHA256: hex.EncodeToString(sum.Sum(nil)),
	}
	if r := target.Recipe(); r != nil {
		meta[stream.MetaModelRecipe] = string(r)
	}
	if target.SGN == nil && (*sgGrad != "" || *surrogate > 0) {
		return cli.Usagef("-sg-grad and -sg-surrogate apply to SGN models only; %s is not one", target.Net.Config.Arch)
	}
	var source *classifier.Classifier
	if *transfer != "" {
		if source, err = classifier.LoadFile(*transfer); err != nil {
			return err
		}
		if fmt.Sprint(source.Net.Config.InShape) != fmt.Sprint(target.Net.Config.InShape) || source.Net.Config.Classes != target.Net.Config.Classes {
			return fmt.Errorf("transfer: surrogate %s does not take the target's inputs", *transfer)
		}
	}
	targetOracle := engine.NewOracle(target.Net, *batch, engine.WithForward(target.Forward()))
	defer targetOracle.Close()
	out, commit, err := cli.CreateOutput(*outPath, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	bar := cli.NewProgress(stderr, cli.IsTerminal(stderr))
	started := time.Now()
	memberStart := started
	progress := func(s harness.Step) {
		bar.Update(s.Attack, s.Done, s.Total, "")
		if s.Finished && *suiteName != "" {
			bar.Done()
			fmt.Fprintf(stderr, "sgn-attack: %s: broke %d of %d attacked, robust %.4f (%d/%d) after it, %s\n",
				s.Attack, s.Broken, s.Total, float64(s.Robust)/float64(max(s.Examples, 1)), s.Robust, s.Examples, time.Since(memberStart).Round(100*time.Millisecond))
			memberStart = time.Now()
		}
	}
	var n int
	if *suiteName != "" {
		b, err := harness.BuildSuite(target, harness.SuiteOptions{Kind: *suiteName, Norm: norm, Eps: float64(eps),
			Steps: *steps, Queries: *queries, Targets: *targets, Surrogate: *surrogate, Transfer: source, Batch: *batch})
		if err != nil {
			return cli.Usagef("%v", err)
		}
		defer b.Close()
		for _, note := range b.Notes {
			fmt.Fprintf(stderr, "sgn-attack: %s\n", note)
		}
		n, err = harness.RunSuite(ctx, harness.SuiteConfig{Name: *suiteName, Members: b.Members, Target: targetOracle, Eps: float64(eps), Norm: norm,
			Batch: *batch, Shard: shard, Seed: *seed, Params: b.Params, Metadata: meta, Zstd: *zstd, Source: orStdin(*dataPath), Progress: progress}, data, out)
		if err != nil {
			return err
		}
		bar.Done()
		if err := commit(true); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "sgn-attack: suite %s eps=%g on %d examples in %s\n", *suiteName, float64(eps), n, time.Since(started).Round(100*time.Millisecond))
		return nil
	}

	loss := attack.Loss(*lossName)
	var a attack.Attack
	switch {
	case *fgsm:
		a = attack.FGSM{Norm: norm, Eps: float64(eps), Alpha: *alpha, RandomStart: !*noStart, Loss: or(loss, attack.LossCE)}
	case *pgd:
		a = attack.PGD{Norm: norm, Eps: float64(eps), Alpha: *alpha, Steps: orInt(*steps, 20), RandomStart: !*noStart, Restarts: *restarts,
			Loss: or(loss, attack.LossCE), Targeted: *targeted, Targets: *targets}
	case *apgd:
		a = attack.APGD{Norm: norm, Eps: float64(eps), Steps: orInt(*steps, 100), Restarts: *restarts, Loss: loss, Targeted: *targeted, Targets: *targets}
	case *fab:
		a = attack.FAB{Norm: norm, Eps: float64(eps), Steps: orInt(*steps, 100), Targets: *targets, Restarts: *restarts}
	case *cw:
		a = attack.CW{Eps: float64(eps), MaxIter: orInt(*steps, 1000), BinarySteps: *cwSteps, InitialConst: *cwConst}
	case *square:
		s := target.Net.Config.InShape
		a = attack.Square{Norm: norm, Eps: float64(eps), Queries: orInt(*steps, 5000), Channels: s[0], Height: s[1], Width: s[2]}
	}

	var sgOpts []sgn.ForwardOption
	params := map[string]string{}
	if target.SGN != nil {
		mode := *sgGrad
		if mode == "" {
			mode = "exact"
		}
		sgOpts = append(sgOpts, sgn.WithGradMode(mode))
		meta[stream.MetaSGGrad] = mode
		params["sg_grad"] = mode
		if *surrogate > 0 {
			sgOpts = append(sgOpts, sgn.WithSmoothSign(*surrogate))
			meta[stream.MetaSurrogate] = "tanh(s/" + strconv.FormatFloat(*surrogate, 'g', -1, 64) + ")"
			params["surrogate"] = meta[stream.MetaSurrogate]
		}
	}
	var craft attack.Oracle = targetOracle
	name := a.Name()
	if source != nil {
		src := engine.NewOracle(source.Net, *batch, engine.WithForward(source.Forward(sgOpts...)))
		defer src.Close()
		craft = src
		meta[stream.MetaTransferFrom] = source.Describe()
		name = "transfer"
	} else if len(sgOpts) > 0 {
		c := engine.NewOracle(target.Net, *batch, engine.WithForward(target.Forward(sgOpts...)))
		defer c.Close()
		craft = c
	}
	total := 0
	if cli.IsTerminal(stderr) && *dataPath != "" {
		// The bar's time left needs the number of examples: count them.
		if total, err = harness.CountShard(*dataPath, shard); err != nil {
			return err
		}
	}
	var last harness.Step
	n, err = harness.Run(ctx, harness.Config{
		Attack: harness.Named(a, name), Craft: craft, Target: targetOracle, Eps: float64(eps), Norm: norm,
		Batch: *batch, Shard: shard, Seed: *seed, Params: params, Metadata: meta, Zstd: *zstd, Source: orStdin(*dataPath),
		Progress: func(s harness.Step) { progress(s); last = s }, Total: total,
	}, data, out)
	if err != nil {
		return err
	}
	bar.Done()
	if err := commit(true); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sgn-attack: %s eps=%g on %d examples: accuracy %.4f (%d/%d) in %s\n",
		name, float64(eps), n, float64(last.Robust)/float64(max(n, 1)), last.Robust, n, time.Since(started).Round(100*time.Millisecond))
	return nil
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func or(l, def attack.Loss) attack.Loss {
	if l == "" {
		return def
	}
	return l
}

// orStdin names an input in messages: its file, or stdin.
func orStdin(path string) string {
	if path == "" {
		return "stdin"
	}
	return path
}
