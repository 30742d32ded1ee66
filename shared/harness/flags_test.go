package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/model"
	"sgn/shared/sgn"
	"sgn/shared/train"
)

func parseFlags(t *testing.T, args ...string) (*flag.FlagSet, *Flags) {
	t.Helper()
	fs := flag.NewFlagSet("sgn-attack", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, f
}

func isUsage(err error) bool {
	var ue *cli.UsageError
	return errors.As(err, &ue)
}

// TestOptions checks the run a command line describes and the flags that
// do not go together, refused as the user's mistakes.
func TestOptions(t *testing.T) {
	tests := []struct {
		args  []string
		check func(Options) bool
		want  string // what a refusal says, or what check wants
	}{
		{[]string{"-pgd"}, func(o Options) bool {
			return o.Attack == "pgd" && o.Norm == attack.Linf && o.Restarts == 1 && o.Batch == 128 && o.Shard == Shard{0, 1} && !o.EpsSet
		}, "pgd, linf, 1 restart, batches of 128, shard 0/1, the model's eps"},
		{[]string{"-cw", "-eps", "8/255"}, func(o Options) bool { return o.Attack == "cw" && o.Norm == attack.L2 && o.EpsSet && o.Eps == 8.0/255 }, "cw is L2; eps 8/255 given"},
		{[]string{"-suite", "standard", "-norm", "l1", "-shard", "1/4"}, func(o Options) bool {
			return o.Attack == "" && o.Suite == SuiteStandard && o.Norm == attack.L1 && o.Shard == Shard{1, 4}
		}, "the L1 standard suite on shard 1/4"},
		{[]string{"-apgd", "-targeted", "-targets", "3", "-eps", "0"}, func(o Options) bool { return o.Targeted && o.Targets == 3 && o.EpsSet && o.Eps == 0 }, "APGD-T on 3 targets, eps 0 given"},
		{[]string{"-fab", "-targets", "2"}, func(o Options) bool { return o.Attack == "fab" && o.Targets == 2 }, "FAB-T on 2 targets"},
		{[]string{"-suite", "sgn", "-transfer", "p.sgn", "-sg-surrogate", "0.1"}, func(o Options) bool { return o.Transfer == "p.sgn" && o.Surrogate == 0.1 }, "the sgn suite with a transfer source"},

		{[]string{"-suite", "standard", "-all-steps"}, func(o Options) bool { return o.AllSteps }, "the standard suite, every step"},
		{[]string{"-square", "-all-steps"}, nil, "-all-steps is for -pgd, -apgd and suites"},
		{nil, nil, "choose exactly one attack"},
		{[]string{"-fgsm", "-pgd"}, nil, "choose exactly one attack"},
		{[]string{"-pgd", "-suite", "standard"}, nil, "choose exactly one attack"},
		{[]string{"-pgd", "-norm", "l3"}, nil, `-norm "l3": want linf, l2 or l1`},
		{[]string{"-fgsm", "-norm", "l1"}, nil, "-norm l1 is for -pgd, -apgd and suites"},
		{[]string{"-suite", "auto"}, nil, `-suite "auto": want standard or sgn`},
		{[]string{"-square", "-targeted"}, nil, "-targeted is for -pgd and -apgd"},
		{[]string{"-suite", "standard", "-targeted"}, nil, "-targeted is for -pgd and -apgd"},
		{[]string{"-pgd", "-targets", "3"}, nil, "-targets N (N >= 1) goes with"},
		{[]string{"-suite", "standard", "-targets", "-1"}, nil, "-targets N (N >= 1) goes with"},
		{[]string{"-square", "-queries", "100"}, nil, "-queries goes with -suite"},
		{[]string{"-suite", "sgn", "-restarts", "5"}, nil, "a suite sets its own losses"},
		{[]string{"-suite", "standard", "-sg-grad", "exact"}, nil, "a suite sets its own losses"},
		{[]string{"-suite", "standard", "-transfer", "p.sgn"}, nil, "-transfer and -sg-surrogate belong to -suite sgn"},
		{[]string{"-pgd", "-shard", "2/2"}, nil, `shard "2/2": want i/n`},
		{[]string{"-pgd", "-batch", "0"}, nil, "-batch and -restarts must be at least 1"},
		{[]string{"-pgd", "-steps", "-1"}, nil, "-steps at least 0"},
		{[]string{"-pgd", "-sg-grad", "bpda"}, nil, `-sg-grad "bpda": want exact or detached`},
		{[]string{"-pgd", "-eps", "-0.1"}, nil, "-eps -0.1: want a budget >= 0"},
	}
	for _, tt := range tests {
		_, f := parseFlags(t, tt.args...)
		o, err := f.Options()
		switch {
		case tt.check == nil && (!isUsage(err) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want a usage error %q", tt.args, err, tt.want)
		case tt.check != nil && (err != nil || !tt.check(o)):
			t.Errorf("%q: %+v, %v; want %s", tt.args, o, err, tt.want)
		}
	}
}

// TestStatedDefaults checks the defaults the help text states in words
// against those the attacks run with: the attack package's, where a zero
// count means its default, and -pgd's own.
func TestStatedDefaults(t *testing.T) {
	fs, _ := parseFlags(t)
	usage := func(name string) string { return fs.Lookup(name).Usage }
	shape := []int{1, 28, 28}
	param := func(name, key string, targeted bool) string {
		return Options{Attack: name, Targeted: targeted, Restarts: 1, Norm: attack.Linf}.single(0.3, shape).Params()[key]
	}
	tests := []struct {
		flag, stated string
	}{
		{"steps", "pgd " + param("pgd", "steps", false)},
		{"steps", "apgd and fab " + param("apgd", "steps", false)},
		{"steps", "fab " + param("fab", "steps", false)},
		{"steps", "cw " + param("cw", "max_iter", false)},
		{"steps", "square " + param("square", "queries", false) + " queries"},
		{"targets", "default " + param("apgd", "targets", true)},
		{"targets", "default " + param("fab", "targets", false)},
		{"sg-surrogate", fmt.Sprintf("default %g", DefaultSurrogate)},
		{"queries", "default " + param("square", "queries", false)},
		{"cw-search", "default " + param("cw", "binary_steps", false)},
		{"cw-const", "default " + param("cw", "initial_const", false)},
		{"eps", fmt.Sprintf("else %g for 1-channel", train.DefaultEps(1, "linf"))},
		{"eps", fmt.Sprintf("l2: %g and %g; l1: %g and %g", train.DefaultEps(1, "l2"), train.DefaultEps(3, "l2"), train.DefaultEps(1, "l1"), train.DefaultEps(3, "l1"))},
		{"loss", "default ce, " + param("apgd", "loss", true) + " for -apgd -targeted"},
	}
	for _, tt := range tests {
		if !strings.Contains(usage(tt.flag), tt.stated) {
			t.Errorf("-%s says %q, want %q: the attacks run with it", tt.flag, usage(tt.flag), tt.stated)
		}
	}
	if got := param("pgd", "loss", false); got != string(attack.LossCE) {
		t.Errorf("-pgd's loss is %s, want ce", got)
	}
}

// tinyModel returns an MLP on 1x4x4 images of 3 classes, an SGN when sg
// is not nil, with the training record train.
func tinyModel(t *testing.T, sg *sgn.Config, train string) *classifier.Classifier {
	t.Helper()
	cfg := model.Config{Arch: "mlp", InShape: []int{1, 4, 4}, Classes: 3, Mean: []float32{0.5}, Std: []float32{0.25}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if sg != nil {
		if err := sgn.Wrap(net, *sg); err != nil {
			t.Fatal(err)
		}
	}
	return &classifier.Classifier{Net: net, SGN: sg, Train: json.RawMessage(train)}
}

// TestPrepare checks the run prepared against a model: its budget, the
// metadata that names the model, the attack's name and the refusals that
// depend on the model.
func TestPrepare(t *testing.T) {
	sc := sgn.DefaultConfig()
	plain := tinyModel(t, nil, "")
	pgdTrained := tinyModel(t, nil, `{"config":{"adv":"pgd","eps":0.2,"norm":"linf"}}`)
	sgnModel := tinyModel(t, &sc, "")
	source := filepath.Join(t.TempDir(), "source.sgn")
	if err := plain.Save(source); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("the checkpoint's file"))
	tests := []struct {
		name    string
		args    []string
		target  *classifier.Classifier
		eps     float64
		attack  string
		meta    map[string]string
		notes   int
		wantErr string
	}{
		{"literature's eps", []string{"-pgd"}, plain, 0.3, "pgd", nil, 0, ""},
		{"l2 eps", []string{"-pgd", "-norm", "l2"}, plain, 2, "pgd", nil, 0, ""},
		{"training eps", []string{"-fgsm"}, pgdTrained, 0.2, "fgsm", map[string]string{stream.MetaModelRecipe: `{"adv":"pgd","eps":0.2,"norm":"linf"}`}, 0, ""},
		{"eps given", []string{"-apgd", "-eps", "0.1"}, pgdTrained, 0.1, "apgd", nil, 0, ""},
		{"sgn exact", []string{"-pgd"}, sgnModel, 0.3, "pgd", map[string]string{stream.MetaSGGrad: "exact"}, 0, ""},
		{"sgn smooth", []string{"-pgd", "-sg-grad", "detached", "-sg-surrogate", "0.1"}, sgnModel, 0.3, "pgd",
			map[string]string{stream.MetaSGGrad: "detached", stream.MetaSurrogate: "tanh(s/0.1)"}, 0, ""},
		{"transfer", []string{"-pgd", "-transfer", source}, sgnModel, 0.3, "transfer", map[string]string{stream.MetaTransferFrom: plain.Describe()}, 0, ""},
		{"standard suite", []string{"-suite", "standard"}, plain, 0.3, "standard", nil, 0, ""},
		{"sgn suite, plain model", []string{"-suite", "sgn"}, plain, 0.3, "sgn", nil, 2, ""},
		{"sgn options, plain model", []string{"-pgd", "-sg-grad", "detached"}, plain, 0, "", nil, 0, "-sg-grad and -sg-surrogate apply to SGN models only; mlp is not one"},
		{"missing transfer source", []string{"-pgd", "-transfer", source + ".missing"}, plain, 0, "", nil, 0, "source.sgn.missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, f := parseFlags(t, tt.args...)
			o, err := f.Options()
			if err != nil {
				t.Fatal(err)
			}
			j, err := o.Prepare(tt.target, sum[:])
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if j.Eps != tt.eps || j.Name != tt.attack || len(j.Notes) != tt.notes {
				t.Errorf("%s at eps %g with notes %q, want %s at %g with %d", j.Name, j.Eps, j.Notes, tt.attack, tt.eps, tt.notes)
			}
			want := map[string]string{stream.MetaModel: tt.target.Describe(), stream.MetaModelSHA256: hex.EncodeToString(sum[:])}
			for k, v := range tt.meta {
				want[k] = v
			}
			for k, v := range want {
				if j.meta[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, j.meta[k], v)
				}
			}
		})
	}
}

// TestEarlyStopWhere checks which attacks stop an example at its first
// misclassified iterate: PGD and APGD on the target, not when they craft
// on a transfer source or a smooth surrogate, whose mistakes do not
// break the target, and none with -all-steps.
func TestEarlyStopWhere(t *testing.T) {
	early := func(a attack.Attack) bool {
		switch a := a.(type) {
		case attack.APGD:
			return a.EarlyStop
		case attack.PGD:
			return a.EarlyStop
		}
		return false
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-pgd"}, true},
		{[]string{"-apgd", "-targeted"}, true},
		{[]string{"-pgd", "-sg-grad", "detached"}, true},
		{[]string{"-pgd", "-all-steps"}, false},
		{[]string{"-apgd", "-transfer", "p.sgn"}, false},
		{[]string{"-pgd", "-sg-surrogate", "0.05"}, false},
	} {
		_, f := parseFlags(t, tc.args...)
		o, err := f.Options()
		if err != nil {
			t.Fatal(err)
		}
		if got := early(o.single(0.3, []int{1, 28, 28})); got != tc.want {
			t.Errorf("%q: early stop %v, want %v", tc.args, got, tc.want)
		}
	}
}
