package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"

	"sgn/format/stream"
	"sgn/shared/attack"
)

// SuiteConfig is one run of a suite of attacks.
type SuiteConfig struct {
	// Name is the suite's, e.g. "standard"; the stream names the attack
	// "suite" with this name among its parameters.
	Name    string
	Members []attack.Member
	Target  Target
	Eps     float64
	Norm    attack.Norm
	// Batch is how many examples a member attacks per call.
	Batch int
	Shard Shard
	Seed  uint64
	// Params and Metadata are added to the stream's, as in Config.
	Params   map[string]string
	Metadata map[string]string
	Zstd     bool
	Source   string
	// Progress, if not nil, is told after every batch of every member how
	// far the member has got, and when it finishes.
	Progress func(Step)
}

// memberInfo is how a suite stream's metadata describes a member.
type memberInfo struct {
	Name   string            `json:"name"`
	Attack string            `json:"attack"`
	Params map[string]string `json:"params"`
	Via    string            `json:"via,omitempty"`
}

// RunSuite runs a suite of attacks over the examples of r's shard and
// writes one attack stream to w: per example the point that broke it (or
// the clean example), the predictions and, in the broken_by column, the
// position of the member that broke it in the stream's list of members
// (-1 for none). Unlike Run it holds the shard's examples in memory, so
// that every member attacks full batches of the examples still unbroken;
// -shard bounds that memory.
//
// It stops, with ctx's cause, once ctx is done: while it reads, and at a
// member's next query of the model.
func RunSuite(ctx context.Context, cfg SuiteConfig, r io.Reader, w io.Writer) (n int, err error) {
	if err := fits(cfg.Target); err != nil {
		return 0, err
	}
	d, k := cfg.Target.InputSize(), cfg.Target.Classes()
	if cfg.Shard.Count == 0 {
		cfg.Shard = Shard{0, 1}
	}
	infos := make([]memberInfo, len(cfg.Members))
	for i, m := range cfg.Members {
		infos[i] = memberInfo{Name: m.Name, Attack: m.Attack.Name(), Params: m.Attack.Params(), Via: m.Via}
	}
	mj, err := json.Marshal(infos)
	if err != nil {
		return 0, fmt.Errorf("suite members: %w", err)
	}
	meta := maps.Clone(cfg.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[stream.MetaSuite] = string(mj)
	params := map[string]string{"suite": cfg.Name, "norm": string(cfg.Norm), "eps": strconv.FormatFloat(cfg.Eps, 'g', -1, 64)}
	maps.Copy(params, cfg.Params)

	var (
		h             stream.Header
		x             []float32
		labels, index []int64
	)
	begin := func(hh stream.Header) error { h = hh; return nil }
	err = readShard(ctx, r, cfg.Source, cfg.Shard, cfg.Batch, cfg.Target, begin, func(ex []float32, label, p int64) error {
		x = append(x, ex...)
		labels = append(labels, label)
		index = append(index, p)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n = len(labels)
	out, err := newOutput(w, h, "suite", params, cfg.Eps, cfg.Shard, meta, cfg.Zstd, d, k,
		stream.ColumnSpec{Name: stream.ColBrokenBy, Type: stream.Int64Column})
	if err != nil {
		return 0, err
	}
	suite := attack.Suite{Members: cfg.Members, Chunk: cfg.Batch}
	if cfg.Progress != nil {
		suite.Progress = func(p attack.SuiteProgress) {
			cfg.Progress(Step{Attack: cfg.Members[p.Member].Name, Done: p.Done, Total: p.Total,
				Finished: p.Done == p.Total, Broken: p.Broken, Robust: p.Robust, Examples: n})
		}
	}
	res, err := suite.Run(stoppable{cfg.Target, ctx}, x, labels, n, cfg.Seed)
	if err != nil {
		return 0, err
	}
	brokenBy := make([]int64, n)
	for i, b := range res.BrokenBy {
		brokenBy[i] = int64(b)
	}
	batch := max(cfg.Batch, 1)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		if err := out.write(x[lo*d:hi*d], res.Adv[lo*d:hi*d], labels[lo:hi], index[lo:hi], res.CleanPred[lo:hi], res.AdvPred[lo:hi],
			stream.Column{Name: stream.ColBrokenBy, Int64: brokenBy[lo:hi]}); err != nil {
			return 0, err
		}
	}
	return n, out.sw.Close()
}
