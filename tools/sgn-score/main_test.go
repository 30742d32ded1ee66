package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sgn/format/stream"
	"sgn/shared/dataset"
	"sgn/shared/score"
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-score (TestMain runs main when asked to), and the tools that make its
// inputs are built once into a temporary directory.

const self = "sgn-score"

var (
	toolDir  string // the other tools, built by TestMain
	buildErr error
)

func TestMain(m *testing.M) {
	if os.Getenv("SGN_TEST_RUN_AS") == self {
		main()
		os.Exit(0) // main exits itself; this is not reached
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", self+"-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	toolDir = dir
	buildErr = buildTools(dir, "sgn-fetch", "sgn-train", "sgn-attack")
	return m.Run()
}

func buildTools(dir string, tools ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir}
	for _, t := range tools {
		args = append(args, "sgn/tools/"+t)
	}
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v: %s", err, out)
	}
	return nil
}

// command returns the command that runs a tool.
func command(tool string, args ...string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if tool == self {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "SGN_TEST_RUN_AS="+self)
	} else {
		if buildErr != nil {
			return nil, buildErr
		}
		cmd = exec.Command(filepath.Join(toolDir, tool), args...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "SGN_CACHE="+filepath.Join(toolDir, "cache"))
	return cmd, nil
}

type result struct {
	code   int
	stdout []byte
	stderr string
}

// runTool runs a tool with stdin (nil: no input) and returns its exit code
// and output.
func runTool(stdin []byte, tool string, args ...string) (result, error) {
	cmd, err := command(tool, args...)
	if err != nil {
		return result{}, err
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return result{}, err
	}
	return result{cmd.ProcessState.ExitCode(), out.Bytes(), errOut.String()}, nil
}

// mustRun runs a tool and fails the test unless it exits 0.
func mustRun(t *testing.T, stdin []byte, tool string, args ...string) result {
	t.Helper()
	r, err := runTool(stdin, tool, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	if r.code != 0 {
		t.Fatalf("%s %v: exit %d, stderr %q", tool, args, r.code, r.stderr)
	}
	return r
}

// refused checks that a run failed with code and one line on stderr (plus
// the usage hint for usage errors) that contains each of want.
func refused(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if code == 2 && len(lines) == 2 && lines[1] == "Run '"+self+" -h' for usage." {
		lines = lines[:1]
	}
	if r.code != code || len(lines) != 1 || !strings.HasPrefix(lines[0], self+": ") ||
		strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
		t.Errorf("exit %d, stderr %q; want %d and one line from %s", r.code, r.stderr, code, self)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not mention %q", r.stderr, w)
		}
	}
	if len(r.stdout) != 0 {
		t.Errorf("wrote %d bytes to stdout", len(r.stdout))
	}
}

// fixture holds 64 MNIST test examples, an MLP trained on them, and attack
// streams against it: FGSM in two shards, and PGD, made once for all tests.
var fix struct {
	once      sync.Once
	dir       string
	skip, err string
}

func fixture(t *testing.T) string {
	t.Helper()
	fix.once.Do(func() {
		mnist := dataset.DefaultOfflineDirs()["mnist"][0]
		if _, err := os.Stat(filepath.Join(mnist, "t10k-images-idx3-ubyte.gz")); err != nil {
			fix.skip = fmt.Sprintf("offline MNIST copy not installed (make setup): %v", err)
			return
		}
		dir := filepath.Join(toolDir, "fixture")
		data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
		steps := [][]string{
			{"sgn-fetch", "-split", "test", "-limit", "64", "-from", mnist, "-o", data, "mnist"},
			{"sgn-train", "-arch", "mlp", "-epochs", "1", "-batch", "32", "-data", data, "-o", model},
			{"sgn-attack", "-fgsm", "-eps", "0.1", "-shard", "0/2", "-model", model, "-data", data, "-o", filepath.Join(dir, "fgsm0.arrow")},
			{"sgn-attack", "-fgsm", "-eps", "0.1", "-shard", "1/2", "-model", model, "-data", data, "-o", filepath.Join(dir, "fgsm1.arrow")},
			{"sgn-attack", "-pgd", "-steps", "2", "-eps", "0.1", "-model", model, "-data", data, "-o", filepath.Join(dir, "pgd.arrow")},
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			fix.err = err.Error()
			return
		}
		for _, s := range steps {
			r, err := runTool(nil, s[0], s[1:]...)
			if err != nil || r.code != 0 {
				fix.err = fmt.Sprintf("%v: exit %d, %v, stderr %q", s, r.code, err, r.stderr)
				return
			}
		}
		fix.dir = dir
	})
	if fix.skip != "" {
		t.Skip(fix.skip)
	}
	if fix.err != "" {
		t.Fatal(fix.err)
	}
	return fix.dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeStream(t *testing.T, path string, h stream.Header, b *stream.Batch) {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type report struct {
	N             int      `json:"n"`
	Accuracy      float64  `json:"accuracy"`
	CleanAccuracy *float64 `json:"clean_accuracy"`
	Attacks       []struct {
		Attack   string  `json:"attack"`
		N        int     `json:"n"`
		Accuracy float64 `json:"accuracy"`
	} `json:"attacks"`
}

func scoreJSON(t *testing.T, stdin []byte, args ...string) report {
	t.Helper()
	r := mustRun(t, stdin, self, append([]string{"-json"}, args...)...)
	var rep report
	if err := json.Unmarshal(r.stdout, &rep); err != nil || strings.Count(string(r.stdout), "\n") != 1 {
		t.Fatalf("-json printed %q: %v", r.stdout, err)
	}
	return rep
}

func TestCleanAccuracy(t *testing.T) {
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	rep := scoreJSON(t, nil, "-model", model, data)
	if rep.N != 64 || rep.Accuracy < 0 || rep.Accuracy > 1 || rep.CleanAccuracy == nil || *rep.CleanAccuracy != rep.Accuracy {
		t.Fatalf("score %+v, want n=64 and a clean accuracy in [0,1]", rep)
	}
	// The same examples on stdin score the same.
	if again := scoreJSON(t, readFile(t, data), "-model", model); again.N != 64 || again.Accuracy != rep.Accuracy {
		t.Errorf("from stdin: %+v, want %+v", again, rep)
	}
	text := mustRun(t, nil, self, "-model", model, data)
	if !strings.Contains(string(text.stdout), "examples") || !strings.Contains(string(text.stdout), fmt.Sprintf("%.4f", rep.Accuracy)) {
		t.Errorf("text report %q, want the accuracy %.4f", text.stdout, rep.Accuracy)
	}
	md := mustRun(t, nil, self, "-md", "-model", model, data)
	if !strings.HasPrefix(string(md.stdout), "| ") {
		t.Errorf("-md printed %q, want a Markdown table", md.stdout)
	}
}

// robust returns, per example index, whether an attack stream's adversarial
// example is still classified right.
func robust(t *testing.T, path string) map[int64]bool {
	t.Helper()
	_, b, err := stream.ReadAll(bytes.NewReader(readFile(t, path)), 0)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := b.Column(score.ColIndex)
	adv, _ := b.Column(score.ColAdvPred)
	out := map[int64]bool{}
	for i := range b.Len() {
		out[idx.Int64[i]] = adv.Int64[i] == b.Labels[i]
	}
	return out
}

func TestAttackStreams(t *testing.T) {
	dir := fixture(t)
	fgsm0, fgsm1, pgd := filepath.Join(dir, "fgsm0.arrow"), filepath.Join(dir, "fgsm1.arrow"), filepath.Join(dir, "pgd.arrow")
	one := scoreJSON(t, nil, fgsm0)
	if one.N != 32 || len(one.Attacks) != 1 || one.Attacks[0].Attack != "fgsm" {
		t.Errorf("one shard: %+v, want fgsm on 32 examples", one)
	}
	// Shards are concatenated; attacks are merged per example, worst case.
	fgsmOK, pgdOK := robust(t, fgsm0), robust(t, pgd)
	for k, v := range robust(t, fgsm1) {
		fgsmOK[k] = v
	}
	var nF, nP, nBoth int
	for i := range int64(64) {
		nF += b2i(fgsmOK[i])
		nP += b2i(pgdOK[i])
		nBoth += b2i(fgsmOK[i] && pgdOK[i])
	}
	rep := scoreJSON(t, nil, fgsm0, pgd, fgsm1)
	if rep.N != 64 || len(rep.Attacks) != 2 {
		t.Fatalf("merged: %+v, want two attacks over 64 examples", rep)
	}
	for _, a := range rep.Attacks {
		want := map[string]int{"fgsm": nF, "pgd": nP}[a.Attack]
		if a.N != 64 || a.Accuracy != float64(want)/64 {
			t.Errorf("%s: %+v, want %d/64 from its adv_pred column", a.Attack, a, want)
		}
	}
	if rep.Accuracy != float64(nBoth)/64 || rep.CleanAccuracy == nil || rep.Accuracy > *rep.CleanAccuracy {
		t.Errorf("worst case %g, want %d/64 (and no more than the clean accuracy)", rep.Accuracy, nBoth)
	}
	// The same shard twice is refused: its examples would count twice.
	r, err := runTool(nil, self, fgsm0, fgsm0)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 1, "fgsm", "appears in two shards")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	good, examples := readFile(t, model), readFile(t, data)
	in := t.TempDir()
	put := func(name string, content []byte) string {
		path := filepath.Join(in, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	half := put("half.sgn", good[:len(good)/2])
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x80
	flippedPath := put("flipped.sgn", flipped)
	truncated := put("truncated.arrow", examples[:len(examples)/2])
	h, b, err := stream.ReadAll(bytes.NewReader(examples), 0)
	if err != nil {
		t.Fatal(err)
	}
	shape := filepath.Join(in, "shape.arrow")
	writeStream(t, shape, stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata},
		&stream.Batch{Pixels: make([]uint8, 2*3*8*8), Labels: []int64{0, 1}})
	labels := filepath.Join(in, "labels.arrow")
	bad := *b
	bad.Labels = slices.Clone(b.Labels)
	bad.Labels[60] = 11
	writeStream(t, labels, h, &bad)
	nan := filepath.Join(in, "nan.arrow")
	floats := h.Float32Images(b, nil)
	floats[2*784+5] = float32(math.NaN())
	writeStream(t, nan, stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1"}},
		&stream.Batch{Floats: floats, Labels: b.Labels})

	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"truncated checkpoint", []string{"-model", half, data}, 1, []string{"half.sgn", "truncated"}},
		{"flipped byte", []string{"-model", flippedPath, data}, 1, []string{"flipped.sgn", "checksum"}},
		{"not a checkpoint", []string{"-model", data, data}, 1, []string{"test.arrow", "not an sgn checkpoint"}},
		{"truncated stream", []string{"-model", model, truncated}, 1, []string{"truncated.arrow", "truncated"}},
		{"not a stream", []string{"-model", model, model}, 1, []string{"m.sgn", "not an Arrow IPC stream"}},
		{"plain stream without model", []string{data}, 1, []string{"test.arrow", "needs -model"}},
		{"shape", []string{"-model", model, shape}, 1, []string{"shape.arrow", "[3 8 8]", "[1 28 28]"}},
		{"label out of range", []string{"-model", model, labels}, 1, []string{"labels.arrow", "example 60", "label 11"}},
		{"NaN pixel", []string{"-model", model, nan}, 1, []string{"nan.arrow", "example 2", "NaN"}},
		{"missing file", []string{"-model", model, filepath.Join(in, "nope.arrow")}, 1, []string{"nope.arrow"}},
		{"unknown flag", []string{"-bogus", data}, 2, []string{"-bogus"}},
		{"json and md", []string{"-json", "-md", "-model", model, data}, 2, []string{"-json", "-md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := runTool(nil, self, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			refused(t, r, tt.code, tt.want...)
		})
	}
}

func TestHelp(t *testing.T) {
	r, err := runTool(nil, self, "-h")
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || !strings.Contains(r.stderr, "Usage: sgn-score") || !strings.Contains(r.stderr, "Examples:") ||
		!strings.Contains(r.stderr, "-json") || len(r.stdout) != 0 {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage with flags and examples", r.code, r.stderr)
	}
}
