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
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-grad (TestMain runs main when asked to), and the tools that make its
// inputs are built once into a temporary directory.

const self = "sgn-grad"

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
	buildErr = buildTools(dir, "sgn-fetch", "sgn-train")
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

// fixture holds 64 MNIST test examples and a plain and an SGN MLP trained
// on them, made once for all tests.
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
			{"sgn-train", "-arch", "mlp", "-epochs", "1", "-batch", "32", "-sgn", "-sg-phi", "l2", "-adv", "fgsm",
				"-data", data, "-o", filepath.Join(dir, "sgn.sgn")},
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

func readStream(t *testing.T, data []byte) (stream.Header, *stream.Batch) {
	t.Helper()
	h, b, err := stream.ReadAll(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("read stream back: %v", err)
	}
	return h, b
}

func TestSGNGradients(t *testing.T) {
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
	_, clean := readStream(t, readFile(t, data))
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"files", []string{"-model", model, "-data", data}, ""},
		{"examples on stdin", []string{"-model", model}, data},
		{"model on stdin", []string{"-data", data}, model},
		{"self-label", []string{"-self", "-model", model, "-data", data}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin []byte
			if tt.stdin != "" {
				stdin = readFile(t, tt.stdin)
			}
			r := mustRun(t, stdin, self, tt.args...)
			if !strings.Contains(r.stderr, "sgn-grad: 64 examples") || !strings.Contains(r.stderr, "self-gradient at input") {
				t.Errorf("stderr %q, want the summary and the self-gradient line", r.stderr)
			}
			h, b := readStream(t, r.stdout)
			const d = 28 * 28
			if b.Len() != 64 || !slices.Equal(h.Shape, []int{1, 28, 28}) || h.Elem != stream.Float32 || len(b.Floats) != 64*d {
				t.Fatalf("%d rows of %v %v gradients (%d values), want 64 of float32 [1 28 28]", b.Len(), h.Elem, h.Shape, len(b.Floats))
			}
			if h.Scale() != 1 {
				t.Errorf("gradient stream has pixel scale %g, want 1", h.Scale())
			}
			var gates map[string][]float32
			if err := json.Unmarshal([]byte(h.Metadata["sgn.gates"]), &gates); err != nil || len(gates["input"]) == 0 {
				t.Errorf("metadata sgn.gates = %q (%v), want the input tap's gates", h.Metadata["sgn.gates"], err)
			}
			sg, ok1 := b.Column("selfgrad.input.l2")
			l2, ok2 := b.Column("grad_l2")
			pred, ok3 := b.Column("pred")
			if !ok1 || !ok2 || !ok3 || sg.Len() != 64 || l2.Len() != 64 || pred.Len() != 64 {
				t.Fatalf("columns %+v, want selfgrad.input.l2, grad_l2 and pred for every row", h.Extra)
			}
			for i := range 64 {
				if v := float64(sg.Float32[i]); !(v >= 0) || math.IsInf(v, 0) {
					t.Errorf("example %d: self-gradient L2 %v", i, v)
				}
				var ss float64
				for _, g := range b.Floats[i*d : (i+1)*d] {
					ss += float64(g) * float64(g)
				}
				if got := float64(l2.Float32[i]); math.Abs(got-math.Sqrt(ss)) > 1e-4*(1+got) {
					t.Errorf("example %d: grad_l2 %g, the gradient image's norm is %g", i, got, math.Sqrt(ss))
				}
				want := clean.Labels[i]
				if tt.name == "self-label" {
					want = pred.Int64[i]
				}
				if b.Labels[i] != want {
					t.Errorf("example %d differentiated for label %d, want %d", i, b.Labels[i], want)
				}
			}
		})
	}
}

func TestPlainModelHasNoSelfGradients(t *testing.T) {
	dir := fixture(t)
	r := mustRun(t, nil, self, "-model", filepath.Join(dir, "m.sgn"), "-data", filepath.Join(dir, "test.arrow"))
	h, b := readStream(t, r.stdout)
	if b.Len() != 64 {
		t.Errorf("%d rows, want 64", b.Len())
	}
	for _, c := range h.Extra {
		if strings.HasPrefix(c.Name, "selfgrad.") {
			t.Errorf("plain model's gradients have column %s", c.Name)
		}
	}
	if g, ok := h.Metadata["sgn.gates"]; ok {
		t.Errorf("plain model's gradients have gates %q", g)
	}
	if strings.Contains(r.stderr, "self-gradient") {
		t.Errorf("stderr %q reports self-gradients", r.stderr)
	}
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
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
	flipped[len(flipped)*3/4] ^= 0x10
	flippedPath := put("flipped.sgn", flipped)
	notCkpt := put("notckpt.sgn", []byte("SGNC but not really"))
	truncated := put("truncated.arrow", examples[:len(examples)-100])
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
	bad.Labels[40] = -1
	writeStream(t, labels, h, &bad)
	nan := filepath.Join(in, "nan.arrow")
	floats := h.Float32Images(b, nil)
	floats[50*784+5] = float32(math.NaN())
	writeStream(t, nan, stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1"}},
		&stream.Batch{Floats: floats, Labels: b.Labels})

	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
	}{
		{"truncated checkpoint", []string{"-model", half, "-data", data}, "", 1, []string{"half.sgn", "truncated"}},
		{"truncated checkpoint on stdin", []string{"-data", data}, half, 1, []string{"stdin", "truncated"}},
		{"flipped byte", []string{"-model", flippedPath, "-data", data}, "", 1, []string{"flipped.sgn", "checksum"}},
		{"not a checkpoint", []string{"-model", notCkpt, "-data", data}, "", 1, []string{"notckpt.sgn", "not an sgn checkpoint"}},
		{"truncated stream", []string{"-model", model, "-data", truncated}, "", 1, []string{"truncated.arrow", "truncated"}},
		{"truncated stream on stdin", []string{"-model", model}, truncated, 1, []string{"stdin", "truncated"}},
		{"shape", []string{"-model", model, "-data", shape}, "", 1, []string{"shape.arrow", "[3 8 8]", "[1 28 28]"}},
		{"label out of range", []string{"-model", model, "-data", labels}, "", 1, []string{"labels.arrow", "example 40", "label -1"}},
		{"NaN pixel", []string{"-model", model, "-data", nan}, "", 1, []string{"nan.arrow", "example 50", "NaN"}},
		{"both from stdin", nil, data, 2, []string{"-model", "-data", "stdin"}},
		{"unknown flag", []string{"-bogus", "-model", model, "-data", data}, "", 2, []string{"-bogus"}},
		{"unknown loss", []string{"-loss", "mse", "-model", model, "-data", data}, "", 2, []string{"mse"}},
		{"zero batch", []string{"-batch", "0", "-model", model, "-data", data}, "", 2, []string{"-batch 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin []byte
			if tt.stdin != "" {
				stdin = readFile(t, tt.stdin)
			}
			r, err := runTool(stdin, self, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			refused(t, r, tt.code, tt.want...)
		})
	}
}

// A failed run leaves no output file, and none in a missing directory.
func TestFailedRunLeavesNoOutput(t *testing.T) {
	dir := fixture(t)
	tmp := t.TempDir()
	model := filepath.Join(dir, "sgn.sgn")
	r, err := runTool(nil, self, "-model", model, "-data", filepath.Join(dir, "test.arrow"), "-o", filepath.Join(tmp, "missing", "g.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 1, "missing/g.arrow")
	r, err = runTool(nil, self, "-model", model, "-data", model, "-o", filepath.Join(tmp, "g.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 1, "not an Arrow IPC stream")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

func TestHelp(t *testing.T) {
	r, err := runTool(nil, self, "-h")
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || !strings.Contains(r.stderr, "Usage: sgn-grad") || !strings.Contains(r.stderr, "Examples:") ||
		!strings.Contains(r.stderr, "-self") || len(r.stdout) != 0 {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage with flags and examples", r.code, r.stderr)
	}
}
