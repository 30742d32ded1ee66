// Package harness runs an attack over an example stream: it reads examples
// batch by batch, attacks them, and writes an attack stream carrying the
// adversarial images, the labels, the predictions before and after, the
// perturbation norms and the attack's parameters, in bounded memory
// whatever the stream's length. Flags, Options and Job are sgn-attack's
// command line: the flags, which of them go together and their defaults,
// and the run they set up against a model.
package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"strconv"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/examples"
	"sgn/shared/rng"
)

// Shard selects the examples one process attacks: those whose position i in
// the stream has i % Count == Index.
type Shard struct{ Index, Count int }

// ParseShard parses "i/n".
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Count); err != nil || sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n", s)
	}
	return sh, nil
}

// Config is one attack run.
type Config struct {
	Attack attack.Attack
	// Craft is the oracle the attack differentiates; Target the model whose
	// predictions are reported (the same for white-box attacks, another one
	// for transfer).
	Craft  attack.Oracle
	Target Target
	Eps    float64
	Norm   attack.Norm
	Batch  int
	Shard  Shard
	Seed   uint64
	// Params are further attack parameters recorded with the attack's own
	// (e.g. how an SGN's self-gradient path was differentiated); streams
	// whose parameters differ are different attacks to sgn-score.
	Params map[string]string
	// Metadata is added to the output stream's (model description, SGN
	// attack options).
	Metadata map[string]string
	Zstd     bool
	// Source names the examples in messages (a file name, or "stdin").
	Source string
	// Progress, if not nil, is told after every batch how far the attack
	// has got; Total is the number of examples of the shard when the
	// caller knows it, else 0.
	Progress func(Step)
	Total    int
}

// A Step is how far an attack has got.
type Step struct {
	Attack      string // the attack, or the suite member, running
	Done, Total int    // examples attacked, and to attack (0: unknown)
	// Finished is set on the last step of an attack (of a suite member),
	// with the examples it broke and the examples still robust after it
	// (for a suite: against the shard's size).
	Finished bool
	Broken   int
	Robust   int
	Examples int
}

// CountShard returns the number of examples of a shard of the example
// stream in the file path, for a progress bar's time left.
func CountShard(path string, shard Shard) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sr, err := stream.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer sr.Close()
	n := 0
	for sr.Next() {
		n += sr.Batch().Len()
	}
	if err := sr.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if shard.Count == 0 {
		shard = Shard{0, 1}
	}
	// The positions i < n with i % Count == Index.
	return max(n-shard.Index+shard.Count-1, 0) / shard.Count, nil
}

// Target is the model whose predictions a run reports: an oracle that
// also says its input shape, which every example must have exactly (the
// number of values is not enough: [784] is not [1,28,28]), and whether it
// fits in memory at its batch, asked before any example is read.
type Target interface {
	attack.Oracle
	InputShape() []int
	Fits() error
}

// sourceName is how messages name a stream of examples.
func sourceName(s string) string {
	if s == "" {
		return "examples"
	}
	return s
}

// An output is an attack stream being written.
type output struct {
	sw   *stream.Writer
	d, k int
}

// newOutput starts the attack stream of examples with header h: the input's
// metadata, the attack's name, parameters and eps, and the columns every
// attack stream has, plus extra.
func newOutput(w io.Writer, h stream.Header, name string, params map[string]string, eps float64, shard Shard, meta map[string]string, zstd bool, d, k int, extra ...stream.ColumnSpec) (*output, error) {
	m := maps.Clone(h.Metadata)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, meta)
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("attack parameters: %w", err)
	}
	m[stream.MetaAttack] = name
	m[stream.MetaAttackParams] = string(pj)
	m[stream.MetaAttackEps] = strconv.FormatFloat(eps, 'g', -1, 64)
	// The adversarial images are float32 values in [0,1], whatever the
	// input's pixel scale.
	m[stream.MetaPixelScale] = "1"
	m[stream.MetaShard] = fmt.Sprintf("%d/%d", shard.Index, shard.Count)
	out := stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: m, Extra: append([]stream.ColumnSpec{
		{Name: stream.ColIndex, Type: stream.Int64Column},
		{Name: stream.ColCleanPred, Type: stream.Int64Column},
		{Name: stream.ColAdvPred, Type: stream.Int64Column},
		{Name: stream.ColLinf, Type: stream.Float32Column},
		{Name: stream.ColL2, Type: stream.Float32Column},
		{Name: stream.ColL1, Type: stream.Float32Column},
	}, extra...)}
	var opts []stream.WriterOption
	if zstd {
		opts = append(opts, stream.WithZstd())
	}
	sw, err := stream.NewWriter(w, out, opts...)
	if err != nil {
		return nil, err
	}
	return &output{sw: sw, d: d, k: k}, nil
}

// write writes the rows of m examples: adversarial images, labels, their
// positions, the predictions and the perturbations' norms, and extra
// columns.
func (o *output) write(x, xadv []float32, labels, index, clean, adv []int64, extra ...stream.Column) error {
	m, d := len(labels), o.d
	linf, l2, l1 := make([]float32, m), make([]float32, m), make([]float32, m)
	for i := range m {
		var mx, ss, sa float64
		for j := i * d; j < (i+1)*d; j++ {
			v := math.Abs(float64(xadv[j] - x[j]))
			mx = math.Max(mx, v)
			ss += v * v
			sa += v
		}
		linf[i], l2[i], l1[i] = float32(mx), float32(math.Sqrt(ss)), float32(sa)
	}
	return o.sw.Write(&stream.Batch{Floats: xadv, Labels: labels, Extra: append([]stream.Column{
		{Name: stream.ColIndex, Int64: index},
		{Name: stream.ColCleanPred, Int64: clean},
		{Name: stream.ColAdvPred, Int64: adv},
		{Name: stream.ColLinf, Float32: linf},
		{Name: stream.ColL2, Float32: l2},
		{Name: stream.ColL1, Float32: l1},
	}, extra...)})
}

// readShard reads the examples of a shard from r, checked for target by
// package examples as every tool checks them: it calls begin with the
// stream's header, then each with every example of the shard (its pixels
// in [0,1], label and position; the pixel slice is reused). It stops, with
// ctx's cause, once ctx is done, and refuses a stream without examples.
func readShard(ctx context.Context, r io.Reader, source string, shard Shard, batch int, target Target, begin func(stream.Header) error, each func(x []float32, label, index int64) error) error {
	sr, err := examples.NewReader(sourceName(source), r, examples.Model{Shape: target.InputShape(), Classes: target.Classes()}, batch)
	if err != nil {
		return err
	}
	defer sr.Close()
	if err := begin(sr.Header()); err != nil {
		return err
	}
	if shard.Count == 0 {
		shard = Shard{0, 1}
	}
	d := target.InputSize()
	for sr.Next() {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		b, images, pos := sr.Batch(), sr.Images(), sr.First()
		for i := 0; i < b.Len(); i++ {
			p := pos + int64(i)
			if int(p%int64(shard.Count)) != shard.Index {
				continue
			}
			if err := each(images[i*d:(i+1)*d], b.Labels[i], p); err != nil {
				return err
			}
		}
	}
	if err := sr.Err(); err != nil {
		return err
	}
	if sr.Len() == 0 {
		return fmt.Errorf("%s: the stream holds no examples", sourceName(source))
	}
	return nil
}

// fits asks every oracle that can say so whether its programs fit in
// memory, before any example is read.
func fits(oracles ...attack.Oracle) error {
	for _, o := range oracles {
		if f, ok := o.(interface{ Fits() error }); ok {
			if err := f.Fits(); err != nil {
				return err
			}
		}
	}
	return nil
}

// stoppable makes an oracle fail with ctx's cause once ctx is done, so
// that an attack stops at its next query rather than at the end of its
// batch.
type stoppable struct {
	attack.Oracle
	ctx context.Context
}

func (o stoppable) stopped() error {
	if o.ctx.Err() != nil {
		return context.Cause(o.ctx)
	}
	return nil
}

func (o stoppable) Logits(x []float32, n int, logits []float32) error {
	if err := o.stopped(); err != nil {
		return err
	}
	return o.Oracle.Logits(x, n, logits)
}

func (o stoppable) LossGrad(l attack.Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	if err := o.stopped(); err != nil {
		return err
	}
	return o.Oracle.LossGrad(l, x, labels, n, loss, grad, logits)
}

// Hold passes an attack's hold on to the oracle when it keeps work while
// held (engine.Oracle keeps its fully connected weights packed): embedding
// the oracle passes on only attack.Oracle's methods.
func (o stoppable) Hold() (release func()) {
	if h, ok := o.Oracle.(attack.Holder); ok {
		return h.Hold()
	}
	return func() {}
}

func (o stoppable) VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error {
	if err := o.stopped(); err != nil {
		return err
	}
	return o.Oracle.VJP(x, n, cotangent, grad, logits)
}

// Run attacks the examples of r and writes the attack stream to w, in
// bounded memory: batch by batch. It stops, with ctx's cause, once ctx is
// done: between batches, and at the attack's next query of a model.
func Run(ctx context.Context, cfg Config, r io.Reader, w io.Writer) (n int, err error) {
	if err := fits(cfg.Target, cfg.Craft); err != nil {
		return 0, err
	}
	target := cfg.Target
	cfg.Craft = stoppable{cfg.Craft, ctx}
	d, k := cfg.Target.InputSize(), cfg.Target.Classes()
	if cfg.Shard.Count == 0 {
		cfg.Shard = Shard{0, 1}
	}
	params := cfg.Attack.Params()
	params["norm"] = string(cfg.Norm)
	maps.Copy(params, cfg.Params)
	// Each chunk draws from its own stream, so a shard's examples get the
	// same random starts whatever the sharding.
	seeds := rng.New(cfg.Seed)
	var (
		out           *output
		x             []float32
		labels, index []int64
		robust        int
	)
	flush := func() error {
		if len(labels) == 0 {
			return nil
		}
		rob, err := attackChunk(cfg, out, seeds.Split(fmt.Sprint(index[0])), x, labels, index, d, k)
		if err != nil {
			return err
		}
		n += len(labels)
		robust += rob
		x, labels, index = x[:0], labels[:0], index[:0]
		if cfg.Progress != nil {
			cfg.Progress(Step{Attack: cfg.Attack.Name(), Done: n, Total: cfg.Total})
		}
		return nil
	}
	begin := func(h stream.Header) error {
		out, err = newOutput(w, h, cfg.Attack.Name(), params, cfg.Eps, cfg.Shard, cfg.Metadata, cfg.Zstd, d, k)
		return err
	}
	err = readShard(ctx, r, cfg.Source, cfg.Shard, cfg.Batch, target, begin, func(ex []float32, label, p int64) error {
		x = append(x, ex...)
		labels = append(labels, label)
		index = append(index, p)
		if len(labels) == cfg.Batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	if cfg.Progress != nil {
		cfg.Progress(Step{Attack: cfg.Attack.Name(), Done: n, Total: n, Finished: true, Broken: n - robust, Robust: robust, Examples: n})
	}
	return n, out.sw.Close()
}

// attackChunk attacks one batch and writes its rows; it returns how many of
// its examples the target still classifies right.
func attackChunk(cfg Config, out *output, seed *rng.RNG, x []float32, labels, index []int64, d, k int) (int, error) {
	m := len(labels)
	xadv, err := cfg.Attack.Run(cfg.Craft, x, labels, m, seed.Rand())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", cfg.Attack.Name(), err)
	}
	logits := make([]float32, m*k)
	if err := cfg.Target.Logits(x, m, logits); err != nil {
		return 0, err
	}
	clean := attack.Predictions(logits, k)
	if err := cfg.Target.Logits(xadv, m, logits); err != nil {
		return 0, err
	}
	adv := attack.Predictions(logits, k)
	robust := 0
	for i, p := range adv {
		if p == labels[i] {
			robust++
		}
	}
	return robust, out.write(x, xadv, labels, index, clean, adv)
}

// Named gives an attack another name in the output (e.g. "transfer" for
// PGD crafted on a surrogate model), keeping its parameters.
func Named(a attack.Attack, name string) attack.Attack {
	if a.Name() == name {
		return a
	}
	return named{a, name}
}

type named struct {
	attack.Attack
	name string
}

func (n named) Name() string { return n.name }

func (n named) Params() map[string]string {
	p := n.Attack.Params()
	p["crafted_with"] = n.Attack.Name()
	return p
}
