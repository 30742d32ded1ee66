package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/cli/clitest"
	"sgn/shared/train"
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-train (TestMain runs main when asked to), and sgn-fetch, which makes
// the examples, is built once into a temporary directory.

const self = "sgn-train"

var tools = clitest.New(self, "sgn-fetch")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// fixture holds 64 and 640 MNIST test examples and an MLP trained for one
// epoch on the 64, made once for all tests.
var fixture = tools.NewFixture(func(mnist, dir string) [][]string {
	data := filepath.Join(dir, "test.arrow")
	return [][]string{
		clitest.FetchMNIST(mnist, 64, data),
		clitest.FetchMNIST(mnist, 640, filepath.Join(dir, "test640.arrow")),
		clitest.TrainMLP(self, data, filepath.Join(dir, "m.sgn")),
	}
})

// progress is where a checkpoint's run stands.
type progress struct {
	Epoch, Batch int
	Done         bool
	Epochs       int
}

func loadProgress(t *testing.T, path string) (*classifier.Classifier, progress) {
	t.Helper()
	cls, err := classifier.LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	var rec struct {
		Config   struct{ Epochs int }
		Progress progress
	}
	if err := json.Unmarshal(cls.Train, &rec); err != nil {
		t.Fatalf("%s: training record %s: %v", path, cls.Train, err)
	}
	rec.Progress.Epochs = rec.Config.Epochs
	return cls, rec.Progress
}

// epochLines returns the "epoch K/N" lines of a run's stderr.
func epochLines(stderr string) []string {
	var out []string
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "epoch ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

func TestTrainsFromStdinToStdout(t *testing.T) {
	dir := fixture.Dir(t)
	r := tools.MustRun(t, self, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")), "-arch", "mlp", "-epochs", "2", "-batch", "32")
	if got := epochLines(r.Stderr); len(got) != 2 || !strings.HasPrefix(got[1], "epoch 2/2: loss ") {
		t.Errorf("stderr %q, want a line per epoch", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "sgn-train: mlp on 64 examples (mnist), 2 epochs of 2 batches") {
		t.Errorf("stderr %q, want the run's summary", r.Stderr)
	}
	cls, err := classifier.Load(bytes.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("checkpoint on stdout: %v", err)
	}
	if cls.Net.Config.Arch != "mlp" || cls.Net.Config.Classes != 10 || !slices.Equal(cls.Net.Config.InShape, []int{1, 28, 28}) || cls.SGN != nil {
		t.Errorf("checkpoint holds %s", cls.Describe())
	}
}

func TestSGNModel(t *testing.T) {
	dir := fixture.Dir(t)
	out := filepath.Join(t.TempDir(), "sgn.sgn")
	tools.MustRun(t, self, nil, "-arch", "mlp", "-epochs", "1", "-batch", "32", "-sgn", "-sg-phi", "l2", "-adv", "fgsm",
		"-data", filepath.Join(dir, "test.arrow"), "-o", out)
	cls, p := loadProgress(t, out)
	if cls.SGN == nil || cls.SGN.Phi != "l2" || !p.Done || p.Epoch != 1 {
		t.Errorf("checkpoint holds %s, progress %+v; want an SGN with phi l2, done after 1 epoch", cls.Describe(), p)
	}
}

// Every refused input leaves the checkpoint already at -o as it was, and
// no temporary file beside it.
func TestRefusedDataKeepsOldCheckpoint(t *testing.T) {
	dir := fixture.Dir(t)
	good := clitest.ReadFile(t, filepath.Join(dir, "m.sgn"))
	data := clitest.ReadFile(t, filepath.Join(dir, "test.arrow"))
	h, b := clitest.ReadStream(t, data)
	in := t.TempDir()
	put := func(name string, content []byte) string { return clitest.WriteFile(t, in, name, content) }
	truncated := put("truncated.arrow", data[:len(data)*2/3])
	emptyFile := put("empty.arrow", nil)
	noRows := filepath.Join(in, "norows.arrow")
	clitest.WriteStream(t, noRows, h, nil)
	labels := filepath.Join(in, "labels.arrow")
	clitest.WriteRelabelled(t, labels, h, b, 9, 10)
	nan := filepath.Join(in, "nan.arrow")
	clitest.WriteNaNPixel(t, nan, h, b, 3, 400)
	flat := filepath.Join(in, "flat.arrow")
	clitest.WriteStream(t, flat, stream.Header{Shape: []int{784}, Elem: stream.Uint8, Metadata: h.Metadata}, &stream.Batch{Pixels: b.Pixels, Labels: b.Labels})
	shape := filepath.Join(in, "shape.arrow")
	clitest.WriteStream(t, shape, stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata},
		&stream.Batch{Pixels: make([]uint8, 64*3*8*8), Labels: b.Labels})
	other := filepath.Join(in, "other.arrow") // the same kind of examples, not the same ones
	relabelled := &stream.Batch{Pixels: b.Pixels, Labels: slices.Clone(b.Labels)}
	relabelled.Labels[0] = (relabelled.Labels[0] + 1) % 10
	clitest.WriteStream(t, other, h, relabelled)
	otherPixels := filepath.Join(in, "pixels.arrow") // the same labels, one pixel changed
	repainted := &stream.Batch{Pixels: slices.Clone(b.Pixels), Labels: b.Labels}
	repainted.Pixels[100] ^= 0x40
	clitest.WriteStream(t, otherPixels, h, repainted)
	half := put("half.sgn", good[:len(good)/2])
	flipped := slices.Clone(good)
	flipped[len(flipped)/3] ^= 1
	flippedPath := put("flipped.sgn", flipped)
	testArrow := filepath.Join(dir, "test.arrow")

	const outName = "model.sgn"
	tests := []struct {
		name   string
		args   []string
		resume string // checkpoint to resume: copied to the output, which is then -resume's file
		want   []string
	}{
		{"truncated stream", []string{"-data", truncated}, "", []string{"truncated.arrow", "truncated"}},
		{"empty input", []string{"-data", emptyFile}, "", []string{"empty.arrow", "empty input"}},
		{"stream without examples", []string{"-data", noRows}, "", []string{"norows.arrow", "no examples"}},
		{"label out of range", []string{"-data", labels}, "", []string{"labels.arrow", "example 9", "label 10"}},
		{"NaN pixel", []string{"-data", nan}, "", []string{"nan.arrow", "example 3", "pixel NaN"}},
		{"flat images", []string{"-data", flat}, "", []string{"flat.arrow", "C,H,W"}},
		{"checkpoint as data", []string{"-data", filepath.Join(dir, "m.sgn")}, "", []string{"m.sgn", "not an Arrow IPC stream"}},
		{"missing data", []string{"-data", filepath.Join(in, "nope.arrow")}, "", []string{"nope.arrow"}},
		{"resume on other shape", []string{"-data", shape}, "m.sgn", []string{"shape.arrow", "[3 8 8]", "[1 28 28]"}},
		{"resume on other labels", []string{"-data", other}, "m.sgn", []string{"other.arrow", "not the data the run was trained on"}},
		{"resume on other pixels", []string{"-data", otherPixels}, "m.sgn", []string{"pixels.arrow", "not the data the run was trained on"}},
		{"resume truncated checkpoint", []string{"-data", testArrow}, half, []string{outName, "truncated"}},
		{"resume flipped byte", []string{"-data", testArrow}, flippedPath, []string{outName, "checksum"}},
		{"resume examples", []string{"-data", testArrow}, testArrow, []string{outName, "not an sgn checkpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, outName)
			old := good
			args := append([]string{"-arch", "mlp", "-epochs", "1", "-batch", "32", "-o", out}, tt.args...)
			if tt.resume != "" {
				if tt.resume != "m.sgn" {
					old = clitest.ReadFile(t, tt.resume)
				}
				args = slices.Concat(tt.args, []string{"-resume", out})
			}
			if err := os.WriteFile(out, old, 0o644); err != nil {
				t.Fatal(err)
			}
			r := tools.Run(t, self, nil, args...)
			clitest.AssertOneLineError(t, r, 1, tt.want...)
			if !bytes.Equal(clitest.ReadFile(t, out), old) {
				t.Errorf("%s changed", outName)
			}
			if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
				t.Errorf("directory holds %v, want only %s", entries, outName)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	dir := fixture.Dir(t)
	data := filepath.Join(dir, "test.arrow")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "-bogus"},
		{[]string{"-epochs", "x"}, "-epochs"},
		{[]string{"-epochs", "0"}, "epochs 0"},
		{[]string{"-adv", "free"}, `"free"`},
		{[]string{"-adv", "fgsm", "-eps", "8/0"}, "-eps"},
		{[]string{"-sg-phi", "l2"}, "-sg-phi needs -sgn"},
		{[]string{"extra.arrow"}, `unexpected argument "extra.arrow"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.sgn")
			r := tools.Run(t, self, nil, append([]string{"-arch", "mlp", "-data", data, "-o", out}, tt.args...)...)
			clitest.AssertOneLineError(t, r, 2, tt.want)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("wrote %s", out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	clitest.AssertHelp(t, tools.Run(t, self, nil, "-h"), "-resume")
	clitest.AssertVersion(t, tools.Run(t, self, nil, "-version"))
}

// TestTerminalStdin checks that the tool refuses to wait for its binary
// input from a terminal.
func TestTerminalStdin(t *testing.T) {
	clitest.AssertRefusesTerminal(t, self, run, "-epochs", "1")
}

// -resume takes the run's settings from the checkpoint: changing any but
// its length is refused, and a run cannot be shortened below what is done.
func TestResumeRefusesNewSettings(t *testing.T) {
	dir := fixture.Dir(t)
	data := filepath.Join(dir, "test.arrow")
	good := clitest.ReadFile(t, filepath.Join(dir, "m.sgn"))
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-lr", "0.1"}, []string{"-lr 0.1 (the run has 0.001)", "keeps the settings"}},
		{[]string{"-adv", "pgd", "-arch", "mlp"}, []string{"-adv pgd (the run has none): a resumed"}}, // -arch mlp is the run's own
		{[]string{"-sgn"}, []string{"-sgn true (the run has false)"}},
		{[]string{"-epochs", "0"}, []string{"-epochs 0", "1 epoch and 0 batches are done"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "m.sgn")
			if err := os.WriteFile(ckpt, good, 0o644); err != nil {
				t.Fatal(err)
			}
			r := tools.Run(t, self, nil, append([]string{"-resume", ckpt, "-data", data}, tt.args...)...)
			clitest.AssertOneLineError(t, r, 2, tt.want...)
			if !bytes.Equal(clitest.ReadFile(t, ckpt), good) {
				t.Errorf("the checkpoint changed")
			}
		})
	}
}

// The command line that started a run may be given again with -resume.
func TestResumeAcceptsItsOwnCommandLine(t *testing.T) {
	dir := fixture.Dir(t)
	ckpt := filepath.Join(t.TempDir(), "m.sgn")
	if err := os.WriteFile(ckpt, clitest.ReadFile(t, filepath.Join(dir, "m.sgn")), 0o644); err != nil {
		t.Fatal(err)
	}
	// clitest.TrainMLP's flags, and this tool's defaults spelled out
	r := tools.MustRun(t, self, nil, "-arch", "mlp", "-epochs", "1", "-batch", "32", "-adv", "none", "-seed", "1",
		"-data", filepath.Join(dir, "test.arrow"), "-resume", ckpt)
	if !strings.Contains(r.Stderr, "complete (1 of 1 epoch)") {
		t.Errorf("stderr %q, want the run found complete, in good English", r.Stderr)
	}
}

// -resume with a larger -epochs lengthens a finished run: it trains the
// further epoch from where the run stopped and records the new length.
func TestResumeExtendsRun(t *testing.T) {
	dir := fixture.Dir(t)
	data := filepath.Join(dir, "test.arrow")
	ckpt := filepath.Join(t.TempDir(), "m.sgn")
	if err := os.WriteFile(ckpt, clitest.ReadFile(t, filepath.Join(dir, "m.sgn")), 0o644); err != nil {
		t.Fatal(err)
	}
	before, p0 := loadProgress(t, ckpt)
	r := tools.MustRun(t, self, nil, "-resume", ckpt, "-data", data, "-epochs", "2")
	if !strings.Contains(r.Stderr, "now lasts 2 epochs instead of 1") || len(epochLines(r.Stderr)) != 1 {
		t.Errorf("stderr %q, want the new length and one epoch trained", r.Stderr)
	}
	after, p1 := loadProgress(t, ckpt)
	if p0.Epoch != 1 || p1 != (progress{Epoch: 2, Done: true, Epochs: 2}) {
		t.Fatalf("progress %+v -> %+v, want epoch 1 -> 2 of 2, done", p0, p1)
	}
	if slices.Equal(before.Net.Params[0].Data, after.Net.Params[0].Data) {
		t.Errorf("the extra epoch left %s unchanged", after.Net.Params[0].Name)
	}
}

// Resuming a finished run trains nothing and says so.
func TestResumeCompletedRun(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	ckpt := filepath.Join(tmp, "m.sgn")
	good := clitest.ReadFile(t, filepath.Join(dir, "m.sgn"))
	if err := os.WriteFile(ckpt, good, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "test.arrow")
	r := tools.MustRun(t, self, nil, "-resume", ckpt, "-data", data)
	if strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "complete") || len(epochLines(r.Stderr)) != 0 {
		t.Errorf("stderr %q, want one line saying the run is complete", r.Stderr)
	}
	if !bytes.Equal(clitest.ReadFile(t, ckpt), good) {
		t.Errorf("the finished checkpoint changed")
	}
	// Asked for the result elsewhere, it writes the finished run there.
	other := filepath.Join(tmp, "copy.sgn")
	tools.MustRun(t, self, nil, "-resume", ckpt, "-data", data, "-o", other)
	a, pa := loadProgress(t, ckpt)
	b, pb := loadProgress(t, other)
	if pa != pb || len(a.Net.Params) != len(b.Net.Params) {
		t.Fatalf("copy has progress %+v, want %+v", pb, pa)
	}
	for i, p := range a.Net.Params {
		if !slices.Equal(p.Data, b.Net.Params[i].Data) {
			t.Errorf("copy's parameter %s differs", p.Name)
		}
	}
}

// SIGINT saves the run at the end of the current batch; -resume finishes it.
func TestInterruptAndResume(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	out, log := filepath.Join(tmp, "run.sgn"), filepath.Join(tmp, "run.jsonl")
	data := filepath.Join(dir, "test640.arrow")
	const epochs = 20
	cmd, err := tools.Command(self, "-arch", "mlp", "-epochs", fmt.Sprint(epochs), "-batch", "32", "-data", data, "-log", log, "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Interrupt once the first epoch's record is in the log.
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
wait:
	for {
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before it could be interrupted; stderr %q", err, stderr.String())
		case <-ticker.C:
			if b, _ := os.ReadFile(log); bytes.Contains(b, []byte("\n")) {
				break wait
			}
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-done
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	var interrupted []string
	for _, l := range lines {
		if strings.Contains(l, "interrupted") {
			interrupted = append(interrupted, l)
		}
	}
	// The tool dies of the signal, as a shell expects, once it has saved.
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGINT || len(interrupted) != 1 || interrupted[0] != lines[len(lines)-1] ||
		!strings.HasPrefix(interrupted[0], "sgn-train: ") || strings.Contains(stderr.String(), "panic") || stdout.Len() != 0 {
		t.Fatalf("ended %v, stderr %q; want death by SIGINT and a last line saying the run was interrupted", cmd.ProcessState, stderr.String())
	}
	_, p := loadProgress(t, out)
	if p.Done || p.Epoch < 1 || p.Epoch >= epochs || p.Epochs != epochs {
		t.Fatalf("interrupted checkpoint at %+v, want part-way through %d epochs", p, epochs)
	}

	r := tools.MustRun(t, self, nil, "-resume", out, "-data", data, "-log", log)
	got := epochLines(r.Stderr)
	if len(got) != epochs-p.Epoch || !strings.HasPrefix(got[0], fmt.Sprintf("epoch %d/%d:", p.Epoch+1, epochs)) ||
		!strings.HasPrefix(got[len(got)-1], fmt.Sprintf("epoch %d/%d:", epochs, epochs)) {
		t.Errorf("resumed at %+v, stderr %q; want epochs %d to %d", p, r.Stderr, p.Epoch+1, epochs)
	}
	if _, end := loadProgress(t, out); !end.Done || end.Epoch != epochs {
		t.Errorf("resumed run ended at %+v, want done after %d epochs", end, epochs)
	}
	if b := clitest.ReadFile(t, log); bytes.Count(b, []byte("\n")) != epochs {
		t.Errorf("log holds %d records, want %d", bytes.Count(b, []byte("\n")), epochs)
	}
}

// -save-every writes a numbered checkpoint every N steps, each at the
// progress and wall time of its step; the one at the last step holds the
// final weights.
func TestSaveEvery(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "run.sgn")
	// 640 examples in batches of 32: 20 steps per epoch, 40 in all; the
	// last step is the final checkpoint, not a numbered one.
	tools.MustRun(t, self, nil, "-arch", "mlp", "-epochs", "2", "-batch", "32", "-save-every", "10",
		"-data", filepath.Join(dir, "test640.arrow"), "-o", out)
	got, err := filepath.Glob(filepath.Join(tmp, "run-step*.sgn"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{train.StepPath(out, 10), train.StepPath(out, 20), train.StepPath(out, 30)}
	if !slices.Equal(got, want) {
		t.Fatalf("numbered checkpoints %q, want %q", got, want)
	}
	var seconds []float64
	for i, path := range want {
		cls, err := classifier.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Progress struct {
				Epoch, Batch, Step int
				Seconds            float64
			}
		}
		if err := json.Unmarshal(cls.Train, &rec); err != nil {
			t.Fatal(err)
		}
		p := rec.Progress
		step := 10 * (i + 1)
		// A snapshot at the end of an epoch stands after its last batch.
		if p.Step != step || p.Epoch*20+p.Batch != step || p.Seconds <= 0 {
			t.Errorf("%s: progress %+v, want step %d, %d batches of 20 into the run, and its wall time", path, p, step, step)
		}
		seconds = append(seconds, p.Seconds)
	}
	if seconds[1] <= seconds[0] || seconds[2] <= seconds[1] {
		t.Errorf("wall times %v do not grow with the steps", seconds)
	}
	final, _ := loadProgress(t, out)
	mid, _ := loadProgress(t, want[2])
	if slices.Equal(final.Net.Params[0].Data, mid.Net.Params[0].Data) {
		t.Errorf("the checkpoint of step 30 has the final weights: snapshots must be copies")
	}
	r := tools.Run(t, self, nil, "-arch", "mlp", "-save-every", "5", "-data", filepath.Join(dir, "test.arrow"))
	clitest.AssertOneLineError(t, r, 2, "-save-every needs -o")
}
