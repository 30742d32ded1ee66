// Command sgn-attack crafts adversarial examples against a checkpoint and
// writes them as an attack stream for sgn-score.
package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/engine"
	"sgn/shared/harness"
	"sgn/shared/sgn"
)

const synopsis = `sgn-attack -fgsm|-pgd|-cw|-apgd|-square [flags] [-model FILE] [-data FILE] [-o FILE]

Attacks the examples of -data (or stdin) against the checkpoint -model (or
stdin) and writes an attack stream: the adversarial images with label,
index, clean_pred, adv_pred, linf and l2 columns and the attack in the
metadata. For an SGN the attacker differentiates through the exact
self-gradient path unless told otherwise.`

const examples = `  sgn-attack -pgd -data test.arrow < model.sgn | sgn-score
  sgn-attack -pgd -loss cw -restarts 5 -steps 100 -model m.sgn -data test.arrow -o pgd-cw.arrow
  sgn-attack -pgd -sg-grad detached -model sgn.sgn -data test.arrow > bpda.arrow
  sgn-attack -pgd -sg-surrogate 0.1 -model sgn.sgn -data test.arrow > smooth.arrow
  sgn-attack -square -eps 0.3 -model m.sgn -data test.arrow > square.arrow
  sgn-attack -pgd -transfer plain.sgn -model sgn.sgn -data test.arrow > transfer.arrow
  for i in 0 1 2 3; do sgn-attack -apgd -shard $i/4 -model m.sgn -data test.arrow > apgd.$i.arrow & done`

func main() { cli.Main("sgn-attack", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-attack", synopsis, examples, stderr)
	var (
		fgsm      = fs.Bool("fgsm", false, "fast gradient sign method (one step)")
		pgd       = fs.Bool("pgd", false, "projected gradient descent (Madry et al.)")
		cw        = fs.Bool("cw", false, "Carlini-Wagner L2 (minimal perturbation; examples beyond -eps count as not broken)")
		apgd      = fs.Bool("apgd", false, "auto-PGD (Croce and Hein), as in AutoAttack")
		square    = fs.Bool("square", false, "Square attack, gradient-free, L-inf")
		modelPath = fs.String("model", "", "checkpoint `FILE` (default stdin)")
		dataPath  = fs.String("data", "", "example stream `FILE` (default stdin)")
		outPath   = fs.String("o", "", "output `FILE` (default stdout)")
		normName  = fs.String("norm", "linf", "threat model: linf or l2")
		eps       = fs.Float64("eps", -1, "perturbation budget in pixel units (default: the model's training eps, else 0.3 for 1-channel, 8/255 for colour; l2: 2 and 0.5)")
		steps     = fs.Int("steps", 0, "iterations (default pgd 20, apgd 100, cw 1000, square 5000 queries)")
		alpha     = fs.Float64("alpha", 0, "pgd step size (default 2.5*eps/steps)")
		restarts  = fs.Int("restarts", 1, "random restarts (pgd, apgd)")
		lossName  = fs.String("loss", "", "loss: ce or cw (pgd, fgsm); ce or dlr (apgd)")
		noStart   = fs.Bool("no-random-start", false, "pgd/fgsm: start at the clean example")
		cwConst   = fs.Float64("cw-const", 0.01, "cw: initial constant c")
		cwSteps   = fs.Int("cw-search", 9, "cw: binary search steps over c")
		seed      = fs.Uint64("seed", 1, "random seed")
		batch     = fs.Int("batch", 128, "examples per batch")
		shardSpec = fs.String("shard", "0/1", "attack slice i of n (examples whose position % n == i)")
		sgGrad    = fs.String("sg-grad", "", "SGN: differentiate the self-gradient path exact (default) or detached (BPDA-style)")
		surrogate = fs.Float64("sg-surrogate", 0, "SGN: replace phi=sign by tanh(s/`TAU`) for the attacker")
		transfer  = fs.String("transfer", "", "craft on the surrogate checkpoint `FILE`, evaluate on -model")
		zstd      = fs.Bool("zstd", false, "compress the output stream with zstd")
	)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	chosen := 0
	for _, b := range []bool{*fgsm, *pgd, *cw, *apgd, *square} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return cli.Usagef("choose exactly one attack: -fgsm, -pgd, -cw, -apgd or -square")
	}
	norm := attack.Norm(*normName)
	if norm != attack.Linf && norm != attack.L2 {
		return cli.Usagef("-norm %q: want linf or l2", *normName)
	}
	if *square && norm != attack.Linf {
		return cli.Usagef("-square supports -norm linf only")
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

	modelIn, data, closeIn, err := cli.OpenInputs(*modelPath, *dataPath, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	target, err := classifier.Load(modelIn)
	if err != nil {
		return fmt.Errorf("load model %s: %w", orStdin(*modelPath), err)
	}
	if *eps < 0 {
		*eps = target.DefaultEps(string(norm))
	}
	loss := attack.Loss(*lossName)
	if loss == "" {
		loss = attack.LossCE
	}
	var a attack.Attack
	switch {
	case *fgsm:
		a = attack.FGSM{Norm: norm, Eps: *eps, Alpha: *alpha, RandomStart: !*noStart, Loss: loss}
	case *pgd:
		a = attack.PGD{Norm: norm, Eps: *eps, Alpha: *alpha, Steps: or(*steps, 20), RandomStart: !*noStart, Restarts: *restarts, Loss: loss}
	case *apgd:
		a = attack.APGD{Norm: norm, Eps: *eps, Steps: or(*steps, 100), Restarts: *restarts, Loss: loss}
	case *cw:
		a = attack.CW{Eps: *eps, MaxIter: or(*steps, 1000), BinarySteps: *cwSteps, InitialConst: *cwConst}
	case *square:
		s := target.Net.Config.InShape
		a = attack.Square{Eps: *eps, Queries: or(*steps, 5000), Channels: s[0], Height: s[1], Width: s[2]}
	}

	var sgOpts []sgn.ForwardOption
	meta := map[string]string{"sgn.model": target.Describe()}
	params := map[string]string{}
	if target.SGN != nil {
		mode := *sgGrad
		if mode == "" {
			mode = "exact"
		}
		sgOpts = append(sgOpts, sgn.WithGradMode(mode))
		meta["sgn.attack.sg_grad"] = mode
		params["sg_grad"] = mode
		if *surrogate > 0 {
			sgOpts = append(sgOpts, sgn.WithSmoothSign(*surrogate))
			meta["sgn.attack.surrogate"] = "tanh(s/" + strconv.FormatFloat(*surrogate, 'g', -1, 64) + ")"
			params["surrogate"] = meta["sgn.attack.surrogate"]
		}
	} else if *sgGrad != "" || *surrogate > 0 {
		return cli.Usagef("-sg-grad and -sg-surrogate apply to SGN models only; %s is not one", target.Net.Config.Arch)
	}
	targetOracle := engine.NewOracle(target.Net, *batch, engine.WithForward(target.Forward()))
	defer targetOracle.Close()
	craft := targetOracle
	name := a.Name()
	if *transfer != "" {
		src, err := classifier.LoadFile(*transfer)
		if err != nil {
			return err
		}
		if fmt.Sprint(src.Net.Config.InShape) != fmt.Sprint(target.Net.Config.InShape) || src.Net.Config.Classes != target.Net.Config.Classes {
			return fmt.Errorf("transfer: surrogate %s does not take the target's inputs", *transfer)
		}
		craft = engine.NewOracle(src.Net, *batch, engine.WithForward(src.Forward(sgOpts...)))
		defer craft.Close()
		meta["sgn.attack.transfer_from"] = src.Describe()
		name = "transfer"
	} else if len(sgOpts) > 0 {
		craft = engine.NewOracle(target.Net, *batch, engine.WithForward(target.Forward(sgOpts...)))
		defer craft.Close()
	}
	out, commit, err := cli.CreateOutput(*outPath, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	n, err := harness.Run(harness.Config{
		Attack: harness.Named(a, name), Craft: craft, Target: targetOracle, Eps: *eps, Norm: norm,
		Batch: *batch, Shard: shard, Seed: *seed, Params: params, Metadata: meta, Zstd: *zstd, Source: orStdin(*dataPath),
	}, data, out)
	if err != nil {
		return err
	}
	if err := commit(true); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sgn-attack: %s eps=%g on %d examples\n", name, *eps, n)
	return nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// orStdin names an input in messages: its file, or stdin.
func orStdin(path string) string {
	if path == "" {
		return "stdin"
	}
	return path
}
