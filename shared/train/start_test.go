package train

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli"
)

// TestStart checks the run a command line starts: a new one, refused as
// the user's mistake when a setting is out of range, or a resumed one,
// which keeps its settings, may be lengthened, and says what that changes.
func TestStart(t *testing.T) {
	data := toyData(64, 2)
	base := []string{"-arch", "mlp", "-batch", "16", "-optimizer", "sgd", "-epochs", "1"}
	first, _, err := parseFlags(t, base...).Start(data, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	saved := roundTrip(t, runToEnd(t, first))
	first.Close()

	tests := []struct {
		name     string
		args     []string
		resume   bool
		wantErr  string // "" for started; refusals are usage errors
		note     string // a substring of the note ("" for none)
		complete bool
	}{
		{"new", []string{"-arch", "mlp", "-batch", "16", "-epochs", "2"}, false, "", "", false},
		{"new out of range", []string{"-arch", "mlp", "-batch", "0"}, false, "batch 0", "", false},
		{"new sgn flag without -sgn", []string{"-arch", "mlp", "-sg-phi", "l2"}, false, "-sg-phi needs -sgn", "", false},
		{"resume as it was", base, true, "", "", true},
		{"resume, nothing given", nil, true, "", "", true},
		{"resume, another lr", []string{"-lr", "0.1"}, true, "-lr 0.1 (the run has 0.05): a resumed run keeps the settings in run.sgn; only -epochs can change", "", false},
		{"resume, longer", append(base[:len(base):len(base)], "-epochs", "3"), true, "", "the run in run.sgn now lasts 3 epochs instead of 1; the cyclic schedule is recomputed", false},
		{"resume, shorter", []string{"-epochs", "0"}, true, "-epochs 0: cannot shorten the run to 0 epochs", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFlags(t, tt.args...)
			var tr *Trainer
			var note string
			var err error
			if tt.resume {
				tr, note, err = f.Start(data, roundTrip(t, saved), "run.sgn")
			} else {
				tr, note, err = f.Start(data, nil, "")
			}
			if tt.wantErr != "" {
				if !isUsage(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if tt.note == "" && note != "" || !strings.Contains(note, tt.note) {
				t.Errorf("note %q, want %q", note, tt.note)
			}
			if tr.Complete() != tt.complete {
				t.Errorf("Complete() = %v at %+v of %d epochs", tr.Complete(), tr.Progress(), tr.Config().Epochs)
			}
		})
	}
	if _, _, err := parseFlags(t).Start(data, roundTrip(t, saved), "run.sgn"); err != nil {
		t.Errorf("resuming gave %v", err)
	}
	if _, _, err := parseFlags(t).Start(toyData(48, 9), roundTrip(t, saved), "run.sgn"); err == nil || !strings.HasPrefix(err.Error(), "run.sgn: resume: ") {
		t.Errorf("resuming on other data: %v, want an error naming the checkpoint", err)
	}
}

func TestCheckHeader(t *testing.T) {
	mnist := stream.Header{Shape: []int{1, 28, 28}, Elem: stream.Uint8, Metadata: map[string]string{stream.MetaClasses: `["0","1","2","3","4","5","6","7","8","9"]`}}
	huge := stream.Header{Shape: []int{1, 4096, 4096}, Elem: stream.Uint8, Metadata: mnist.Metadata}
	tests := []struct {
		args     []string
		resuming bool
		h        stream.Header
		refused  bool
	}{
		{[]string{"-arch", "mlp"}, false, mnist, false},
		{[]string{"-arch", "mlp"}, false, huge, true},                 // a first layer of 17 GB
		{[]string{"-arch", "mlp"}, true, huge, false},                 // the checkpoint decides, later
		{[]string{"-arch", "mlp", "-batch", "0"}, false, huge, false}, // reported by Start
	}
	for _, tt := range tests {
		err := parseFlags(t, tt.args...).CheckHeader(tt.resuming)(tt.h, "test.arrows")
		if tt.refused != (err != nil) || err != nil && !strings.Contains(err.Error(), "test.arrows") {
			t.Errorf("%v (resuming %v) on %v: %v, want refused %v, naming the stream", tt.args, tt.resuming, tt.h.Shape, err, tt.refused)
		}
	}
}

func TestReadData(t *testing.T) {
	data := toyData(10, 4)
	var full, empty bytes.Buffer
	for _, c := range []struct {
		buf *bytes.Buffer
		b   *stream.Batch
	}{{&full, data.Examples}, {&empty, &stream.Batch{}}} {
		w, err := stream.NewWriter(c.buf, data.Header)
		if err != nil {
			t.Fatal(err)
		}
		if c.b.Len() > 0 {
			if err := w.Write(c.b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	accept := func(stream.Header, string) error { return nil }
	refuse := func(_ stream.Header, name string) error { return cli.Usagef("%s: refused", name) }
	tests := []struct {
		in    []byte
		check func(stream.Header, string) error
		want  string // "" for read
	}{
		{full.Bytes(), accept, ""},
		{full.Bytes(), refuse, "in.arrows: refused"},
		{empty.Bytes(), accept, "read examples from in.arrows: the stream holds no examples"},
		{full.Bytes()[:full.Len()/2], accept, "read examples from in.arrows: "},
	}
	for i, tt := range tests {
		d, err := ReadData(bytes.NewReader(tt.in), "in.arrows", tt.check)
		switch {
		case tt.want == "" && (err != nil || d.Examples.Len() != 10 || d.Name != "in.arrows"):
			t.Errorf("%d: %d examples named %q, %v; want the 10", i, d.Examples.Len(), d.Name, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%d: %v, want %q", i, err, tt.want)
		}
	}
}

// TestReport checks the lines a run reports per epoch and its JSON log.
func TestReport(t *testing.T) {
	c := Config{Epochs: 3, ValSteps: 20}
	clean, robust := 0.9, 0.5
	tests := []struct {
		r    Record
		want string
	}{
		{Record{Epoch: 1, TrainLoss: 0.5, TrainAcc: 0.75, TrainExamples: 64, EpochSeconds: 1.25, StepMillis: 12},
			"epoch 1/3: loss 0.5000 train acc 0.7500 (1.2s, 12 ms/step)"},
		{Record{Epoch: 2, TrainExamples: 0, EpochSeconds: 3, StepMillis: 7},
			"epoch 2/3: trained before the resume (its loss was not recorded) (3.0s, 7 ms/step)"},
		{Record{Epoch: 3, TrainLoss: 0.25, TrainAcc: 1, TrainExamples: 64, ValClean: &clean, ValPGD: &robust},
			"epoch 3/3: loss 0.2500 train acc 1.0000 val clean 0.9000 val pgd-20 0.5000 (0.0s, 0 ms/step)"},
	}
	var w, log bytes.Buffer
	h := Report(c, cli.NewProgress(&w, false), &w, &log)
	for _, tt := range tests {
		if got := EpochLine(tt.r, c); got != tt.want {
			t.Errorf("EpochLine = %q, want %q", got, tt.want)
		}
		if err := h.Epoch(tt.r); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != len(tests) || !strings.Contains(w.String(), tests[2].want) {
		t.Fatalf("log %q, output %q: want a record and a line per epoch", log.String(), w.String())
	}
	for i, l := range lines {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Epoch != tests[i].r.Epoch {
			t.Errorf("log line %d %q: %+v, %v", i, l, r, err)
		}
	}
	if h := Report(c, cli.NewProgress(&w, false), &w, nil); h.Epoch(tests[0].r) != nil {
		t.Error("a report without a log failed")
	}
}

func TestSummary(t *testing.T) {
	for _, tt := range []struct {
		n, val, batch int
		want          string
	}{
		{64, 0, 16, "mlp on 64 examples (toy), 1 epoch of 4 batches, adv=none eps=0.3"},
		{33, 16, 17, "mlp on 17 examples (toy), 1 epoch of 1 batch, adv=none eps=0.3"},
	} {
		f := parseFlags(t, "-arch", "mlp", "-epochs", "1", "-batch", strconv.Itoa(tt.batch), "-val", strconv.Itoa(tt.val))
		tr, _, err := f.Start(toyData(tt.n, 1), nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Summary(); got != tt.want {
			t.Errorf("Summary = %q, want %q", got, tt.want)
		}
		tr.Close()
	}
}
