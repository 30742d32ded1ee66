// Package harness runs an attack over an example stream: it reads examples
// batch by batch, attacks them, and writes an attack stream carrying the
// adversarial images, the labels, the predictions before and after, the
// perturbation norms and the attack's parameters, in bounded memory
// whatever the stream's length.
package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"

	"sgn/format/stream"
	"sgn/shared/attack"
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
	Craft, Target attack.Oracle
	Eps           float64
	Norm          attack.Norm
	Batch         int
	Shard         Shard
	Seed          uint64
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
}

// sourceName is how messages name a stream of examples.
func sourceName(s string) string {
	if s == "" {
		return "examples"
	}
	return s
}

// Run attacks the examples of r and writes the attack stream to w.
func Run(cfg Config, r io.Reader, w io.Writer) (n int, err error) {
	sr, err := stream.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", sourceName(cfg.Source), err)
	}
	defer sr.Close()
	h := sr.Header()
	d, k := cfg.Target.InputSize(), cfg.Target.Classes()
	if h.ExampleSize() != d {
		return 0, fmt.Errorf("%s: examples have shape %v (%d values), the model takes %d", sourceName(cfg.Source), h.Shape, h.ExampleSize(), d)
	}
	if cfg.Shard.Count == 0 {
		cfg.Shard = Shard{0, 1}
	}
	meta := maps.Clone(h.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	params := cfg.Attack.Params()
	params["norm"] = string(cfg.Norm)
	maps.Copy(params, cfg.Params)
	maps.Copy(meta, cfg.Metadata)
	pj, _ := json.Marshal(params)
	meta[stream.MetaAttack] = cfg.Attack.Name()
	meta[stream.MetaAttackParams] = string(pj)
	meta[stream.MetaAttackEps] = strconv.FormatFloat(cfg.Eps, 'g', -1, 64)
	// The adversarial images are float32 values in [0,1], whatever the
	// input's pixel scale.
	meta[stream.MetaPixelScale] = "1"
	meta["sgn.attack.shard"] = fmt.Sprintf("%d/%d", cfg.Shard.Index, cfg.Shard.Count)
	out := stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: meta, Extra: []stream.ColumnSpec{
		{Name: stream.ColIndex, Type: stream.Int64Column},
		{Name: stream.ColCleanPred, Type: stream.Int64Column},
		{Name: stream.ColAdvPred, Type: stream.Int64Column},
		{Name: stream.ColLinf, Type: stream.Float32Column},
		{Name: stream.ColL2, Type: stream.Float32Column},
	}}
	var opts []stream.WriterOption
	if cfg.Zstd {
		opts = append(opts, stream.WithZstd())
	}
	sw, err := stream.NewWriter(w, out, opts...)
	if err != nil {
		return 0, err
	}
	// Each chunk draws from its own stream, so a shard's examples get the
	// same random starts whatever the sharding.
	seeds := rng.New(cfg.Seed)
	var (
		pos           int64
		x, images     []float32
		labels, index []int64
		pending       int
		flushErr      error
	)
	flush := func() {
		if pending == 0 || flushErr != nil {
			return
		}
		flushErr = attackChunk(cfg, sw, seeds.Split(fmt.Sprint(index[0])), x[:pending*d], labels[:pending], index[:pending], d, k)
		n += pending
		pending, x, labels, index = 0, x[:0], labels[:0], index[:0]
	}
	for sr.Next() {
		b := sr.Batch()
		images = h.Float32Images(b, images)
		for i := 0; i < b.Len(); i++ {
			p := pos + int64(i)
			if int(p%int64(cfg.Shard.Count)) != cfg.Shard.Index {
				continue
			}
			if b.Labels[i] < 0 || b.Labels[i] >= int64(k) {
				return n, fmt.Errorf("%s: example %d has label %d, outside the model's %d classes", sourceName(cfg.Source), p, b.Labels[i], k)
			}
			ex := images[i*d : (i+1)*d]
			for _, v := range ex {
				if math.IsNaN(float64(v)) || v < 0 || v > 1 {
					return n, fmt.Errorf("%s: example %d has pixel %v outside [0,1]", sourceName(cfg.Source), p, v)
				}
			}
			x = append(x, ex...)
			labels = append(labels, b.Labels[i])
			index = append(index, p)
			pending++
			if pending == cfg.Batch {
				flush()
			}
		}
		pos += int64(b.Len())
		if flushErr != nil {
			return n, flushErr
		}
	}
	if err := sr.Err(); err != nil {
		return n, fmt.Errorf("%s: %w", sourceName(cfg.Source), err)
	}
	flush()
	if flushErr != nil {
		return n, flushErr
	}
	return n, sw.Close()
}

func attackChunk(cfg Config, sw *stream.Writer, seed *rng.RNG, x []float32, labels, index []int64, d, k int) error {
	m := len(labels)
	xadv, err := cfg.Attack.Run(cfg.Craft, x, labels, m, seed.Rand())
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Attack.Name(), err)
	}
	logits := make([]float32, m*k)
	if err := cfg.Target.Logits(x, m, logits); err != nil {
		return err
	}
	clean := attack.Predictions(logits, k)
	if err := cfg.Target.Logits(xadv, m, logits); err != nil {
		return err
	}
	adv := attack.Predictions(logits, k)
	linf, l2 := make([]float32, m), make([]float32, m)
	for i := 0; i < m; i++ {
		var mx, ss float64
		for j := i * d; j < (i+1)*d; j++ {
			v := math.Abs(float64(xadv[j] - x[j]))
			mx = math.Max(mx, v)
			ss += v * v
		}
		linf[i], l2[i] = float32(mx), float32(math.Sqrt(ss))
	}
	return sw.Write(&stream.Batch{Floats: xadv, Labels: labels, Extra: []stream.Column{
		{Name: stream.ColIndex, Int64: index},
		{Name: stream.ColCleanPred, Int64: clean},
		{Name: stream.ColAdvPred, Int64: adv},
		{Name: stream.ColLinf, Float32: linf},
		{Name: stream.ColL2, Float32: l2},
	}})
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
