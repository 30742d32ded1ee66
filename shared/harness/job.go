package harness

import (
	"context"
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
	"sgn/shared/sgn"
	"sgn/shared/train"
)

// A Job is an attack run against a loaded model, ready to go.
type Job struct {
	// Name is the attack's, as the stream and the summary call it
	// ("transfer" for an attack crafted on another model), or the suite's.
	Name string
	Eps  float64
	// Notes are for the user: the attacks a suite leaves out, and why.
	Notes []string

	opts    Options
	meta    map[string]string
	target  *engine.Oracle
	craft   attack.Oracle
	attack  attack.Attack
	params  map[string]string
	suite   *BuiltSuite
	closers []func()
}

// Prepare returns the run of o against target, the checkpoint whose file
// has SHA-256 sum: its budget (the model's own when o gives none, see
// train.AttackEps), the stream's metadata naming the model, the oracles
// the attack differentiates and, for -transfer, the surrogate model,
// loaded from its file. Options that do not fit the model are
// cli.UsageErrors.
func (o Options) Prepare(target *classifier.Classifier, sum []byte) (*Job, error) {
	j := &Job{Eps: o.Eps, opts: o, params: map[string]string{}}
	if !o.EpsSet {
		j.Eps = train.AttackEps(target, string(o.Norm))
	}
	j.meta = map[string]string{
		stream.MetaModel:       target.Describe(),
		stream.MetaModelSHA256: hex.EncodeToString(sum),
	}
	if r := target.Recipe(); r != nil {
		j.meta[stream.MetaModelRecipe] = string(r)
	}
	if target.SGN == nil && (o.SGGrad != "" || o.Surrogate > 0) {
		return nil, cli.Usagef("-sg-grad and -sg-surrogate apply to SGN models only; %s is not one", target.Net.Config.Arch)
	}
	var source *classifier.Classifier
	if o.Transfer != "" {
		var err error
		if source, err = classifier.LoadFile(o.Transfer); err != nil {
			return nil, err
		}
		if fmt.Sprint(source.Net.Config.InShape) != fmt.Sprint(target.Net.Config.InShape) || source.Net.Config.Classes != target.Net.Config.Classes {
			return nil, fmt.Errorf("transfer: surrogate %s does not take the target's inputs", o.Transfer)
		}
	}
	j.target = engine.NewOracle(target.Net, o.Batch, engine.WithForward(target.Forward()))
	j.closers = append(j.closers, func() { j.target.Close() })
	if o.Suite != "" {
		b, err := BuildSuite(target, SuiteOptions{Kind: o.Suite, Norm: o.Norm, Eps: j.Eps,
			Steps: o.Steps, Queries: o.Queries, Targets: o.Targets, Surrogate: o.Surrogate, Transfer: source, Batch: o.Batch, AllSteps: o.AllSteps})
		if err != nil {
			j.Close()
			return nil, cli.Usagef("%v", err)
		}
		j.closers = append(j.closers, func() { b.Close() })
		j.Name, j.suite, j.Notes = o.Suite, b, b.Notes
		return j, nil
	}

	j.attack = o.single(j.Eps, target.Net.Config.InShape)
	j.Name = j.attack.Name()
	var sgOpts []sgn.ForwardOption
	if target.SGN != nil {
		mode := o.SGGrad
		if mode == "" {
			mode = "exact"
		}
		sgOpts = append(sgOpts, sgn.WithGradMode(mode))
		j.meta[stream.MetaSGGrad] = mode
		j.params["sg_grad"] = mode
		if o.Surrogate > 0 {
			sgOpts = append(sgOpts, sgn.WithSmoothSign(o.Surrogate))
			j.meta[stream.MetaSurrogate] = "tanh(s/" + strconv.FormatFloat(o.Surrogate, 'g', -1, 64) + ")"
			j.params["surrogate"] = j.meta[stream.MetaSurrogate]
		}
	}
	j.craft = j.target
	switch {
	case source != nil:
		src := engine.NewOracle(source.Net, o.Batch, engine.WithForward(source.Forward(sgOpts...)))
		j.closers = append(j.closers, func() { src.Close() })
		j.craft = src
		j.meta[stream.MetaTransferFrom] = source.Describe()
		j.Name = "transfer"
	case len(sgOpts) > 0:
		c := engine.NewOracle(target.Net, o.Batch, engine.WithForward(target.Forward(sgOpts...)))
		j.closers = append(j.closers, func() { c.Close() })
		j.craft = c
	}
	return j, nil
}

// Close releases the job's oracles.
func (j *Job) Close() {
	for _, c := range j.closers {
		c()
	}
}

// Watch is how a caller follows a Job: Step after every batch, and Line
// with a line to show, such as each suite member's result as it finishes.
type Watch struct {
	Step func(Step)
	Line func(string)
}

// Run attacks the examples of data (the file dataPath, or "" for stdin)
// and writes the attack stream to out. count asks, for a single attack on
// a file, for the examples of the shard to be counted first, so that
// Step's Total can give a time left. Its result is the line that sums up
// the run.
func (j *Job) Run(ctx context.Context, data io.Reader, dataPath string, count bool, out io.Writer, w Watch) (string, error) {
	started := time.Now()
	memberStart := started
	var last Step
	progress := func(s Step) {
		last = s
		w.Step(s)
		if s.Finished && j.suite != nil {
			w.Line(fmt.Sprintf("%s: broke %d of %d attacked, robust %.4f (%d/%d) after it, %s",
				s.Attack, s.Broken, s.Total, float64(s.Robust)/float64(max(s.Examples, 1)), s.Robust, s.Examples, time.Since(memberStart).Round(100*time.Millisecond)))
			memberStart = time.Now()
		}
	}
	o, source := j.opts, dataPath
	if source == "" {
		source = "stdin"
	}
	if j.suite != nil {
		n, err := RunSuite(ctx, SuiteConfig{Name: o.Suite, Members: j.suite.Members, Target: j.target, Eps: j.Eps, Norm: o.Norm,
			Batch: o.Batch, Shard: o.Shard, Seed: o.Seed, Params: j.suite.Params, Metadata: j.meta, Zstd: o.Zstd, Source: source, Progress: progress}, data, out)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("suite %s eps=%g on %d examples in %s", o.Suite, j.Eps, n, time.Since(started).Round(100*time.Millisecond)), nil
	}
	total := 0
	if count && dataPath != "" {
		// The bar's time left needs the number of examples: count them.
		var err error
		if total, err = CountShard(dataPath, o.Shard); err != nil {
			return "", err
		}
	}
	n, err := Run(ctx, Config{
		Attack: Named(j.attack, j.Name), Craft: j.craft, Target: j.target, Eps: j.Eps, Norm: o.Norm,
		Batch: o.Batch, Shard: o.Shard, Seed: o.Seed, Params: j.params, Metadata: j.meta, Zstd: o.Zstd, Source: source,
		Progress: progress, Total: total,
	}, data, out)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s eps=%g on %d examples: accuracy %.4f (%d/%d) in %s",
		j.Name, j.Eps, n, float64(last.Robust)/float64(max(n, 1)), last.Robust, n, time.Since(started).Round(100*time.Millisecond)), nil
}
