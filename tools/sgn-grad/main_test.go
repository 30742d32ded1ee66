package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-grad (TestMain runs main when asked to), and the tools that make its
// inputs are built once into a temporary directory.

const self = "sgn-grad"

var tools = clitest.New(self, "sgn-fetch", "sgn-train")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// fixture holds 64 MNIST test examples and a plain and an SGN MLP trained
// on them, made once for all tests.
var fixture = tools.NewFixture(clitest.MLPs)

func TestSGNGradients(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
	_, clean := clitest.ReadStream(t, clitest.ReadFile(t, data))
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"files", []string{"-model", model, "-data", data}, ""},
		{"examples on stdin", []string{"-model", model}, data},
		{"model on stdin", []string{"-data", data}, model},
		{"self-label", []string{"-self", "-model", model, "-data", data}, ""},
		{"batches of 10", []string{"-batch", "10", "-model", model, "-data", data}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin []byte
			if tt.stdin != "" {
				stdin = clitest.ReadFile(t, tt.stdin)
			}
			r := tools.MustRun(t, self, stdin, tt.args...)
			if !strings.Contains(r.Stderr, "sgn-grad: 64 examples") || !strings.Contains(r.Stderr, "self-gradient at input") {
				t.Errorf("stderr %q, want the summary and the self-gradient line", r.Stderr)
			}
			h, b := clitest.ReadStream(t, r.Stdout)
			const d = 28 * 28
			if b.Len() != 64 || !slices.Equal(h.Shape, []int{1, 28, 28}) || h.Elem != stream.Float32 || len(b.Floats) != 64*d {
				t.Fatalf("%d rows of %v %v gradients (%d values), want 64 of float32 [1 28 28]", b.Len(), h.Elem, h.Shape, len(b.Floats))
			}
			if h.Scale() != 1 {
				t.Errorf("gradient stream has pixel scale %g, want 1", h.Scale())
			}
			var gates map[string][]float32
			if err := json.Unmarshal([]byte(h.Metadata[stream.MetaGates]), &gates); err != nil || len(gates["input"]) == 0 {
				t.Errorf("metadata sgn.gates = %q (%v), want the input tap's gates", h.Metadata[stream.MetaGates], err)
			}
			sg, ok1 := b.Column("selfgrad.input.l2")
			l2, ok2 := b.Column(stream.ColGradL2)
			pred, ok3 := b.Column(stream.ColPred)
			if !ok1 || !ok2 || !ok3 || sg.Len() != 64 || l2.Len() != 64 || pred.Len() != 64 {
				t.Fatalf("columns %+v, want selfgrad.input.l2, grad_l2 and pred for every row", h.Extra)
			}
			// The self-gradient itself, a tensor column of the input's shape,
			// row by row in the order of the examples, whose norms are the
			// L2 column's.
			var spec stream.ColumnSpec
			for _, c := range h.Extra {
				if c.Name == stream.SelfGradColumn("input") {
					spec = c
				}
			}
			s, ok := b.Column(stream.SelfGradColumn("input"))
			if !ok || spec.Type != stream.Float32TensorColumn || !slices.Equal(spec.Shape, []int{1, 28, 28}) || s.Len() != 64*d {
				t.Fatalf("column selfgrad.input: %+v with %d values, want a float32 tensor column [1 28 28] of 64 rows", spec, s.Len())
			}
			distinct := 0
			for i := range 64 {
				var ss float64
				for _, g := range s.Float32[i*d : (i+1)*d] {
					ss += float64(g) * float64(g)
				}
				if got := float64(sg.Float32[i]); math.Abs(got-math.Sqrt(ss)) > 1e-4*(1+got) {
					t.Errorf("example %d: selfgrad.input.l2 %g, the self-gradient's norm is %g", i, got, math.Sqrt(ss))
				}
				if i > 0 && !slices.Equal(s.Float32[i*d:(i+1)*d], s.Float32[(i-1)*d:i*d]) {
					distinct++
				}
			}
			if distinct < 60 {
				t.Errorf("only %d of 63 examples have a self-gradient unlike the one before", distinct)
			}
			for i := range 64 {
				if v := float64(sg.Float32[i]); !(v > 0) || math.IsInf(v, 0) {
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

// TestHelpExamples runs the help text's examples on the fixture. A gradient
// stream is no input of sgn-score or the other tools, so every example
// ends with sgn-grad writing it.
func TestHelpExamples(t *testing.T) {
	dir := fixture.Dir(t)
	files := map[string]string{"sgn.sgn": filepath.Join(dir, "sgn.sgn"), "test.arrows": filepath.Join(dir, "test.arrow")}
	data := clitest.ReadFile(t, files["test.arrows"])
	for _, line := range strings.Split(examples, "\n") {
		line = strings.TrimSpace(line)
		cmds := strings.Split(line, " | ")
		last := strings.Fields(cmds[len(cmds)-1])
		if len(last) == 0 || last[0] != self {
			t.Errorf("example %q: sgn-grad's stream goes to %q, which does not read gradient streams", line, last)
			continue
		}
		// Run sgn-grad's part, with the fixture for its files and, when
		// sgn-fetch feeds it, the fixture's examples on stdin.
		var stdin []byte
		if len(cmds) > 1 {
			stdin = data
		}
		args, out := []string{}, filepath.Join(t.TempDir(), "grads.arrow")
		for i := 1; i < len(last); i++ {
			switch a := last[i]; {
			case a == "-o" || a == ">":
				i++
			case files[a] != "":
				args = append(args, files[a])
			default:
				args = append(args, a)
			}
		}
		tools.MustRun(t, self, stdin, append(args, "-o", out)...)
		if _, b := clitest.ReadStream(t, clitest.ReadFile(t, out)); b.Len() != 64 {
			t.Errorf("example %q wrote %d rows, want 64", line, b.Len())
		}
	}
}

func TestPlainModelHasNoSelfGradients(t *testing.T) {
	dir := fixture.Dir(t)
	r := tools.MustRun(t, self, nil, "-model", filepath.Join(dir, "m.sgn"), "-data", filepath.Join(dir, "test.arrow"))
	h, b := clitest.ReadStream(t, r.Stdout)
	if b.Len() != 64 {
		t.Errorf("%d rows, want 64", b.Len())
	}
	for _, c := range h.Extra {
		if strings.HasPrefix(c.Name, "selfgrad.") {
			t.Errorf("plain model's gradients have column %s", c.Name)
		}
	}
	if g, ok := h.Metadata[stream.MetaGates]; ok {
		t.Errorf("plain model's gradients have gates %q", g)
	}
	if strings.Contains(r.Stderr, "self-gradient") {
		t.Errorf("stderr %q reports self-gradients", r.Stderr)
	}
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
	good, examples := clitest.ReadFile(t, model), clitest.ReadFile(t, data)
	in := t.TempDir()
	put := func(name string, content []byte) string { return clitest.WriteFile(t, in, name, content) }
	half := put("half.sgn", good[:len(good)/2])
	flipped := slices.Clone(good)
	flipped[len(flipped)*3/4] ^= 0x10
	flippedPath := put("flipped.sgn", flipped)
	notCkpt := put("notckpt.sgn", []byte("SGNC but not really"))
	truncated := put("truncated.arrow", examples[:len(examples)-100])
	h, b := clitest.ReadStream(t, examples)
	shape := filepath.Join(in, "shape.arrow")
	clitest.WriteStream(t, shape, stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata},
		&stream.Batch{Pixels: make([]uint8, 2*3*8*8), Labels: []int64{0, 1}})
	labels := filepath.Join(in, "labels.arrow")
	clitest.WriteRelabelled(t, labels, h, b, 40, -1)
	nan := filepath.Join(in, "nan.arrow")
	clitest.WriteNaNPixel(t, nan, h, b, 50, 5)

	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "truncated checkpoint", Args: []string{"-model", half, "-data", data}, Code: 1, Want: []string{"half.sgn", "truncated"}},
		{Name: "truncated checkpoint on stdin", Args: []string{"-data", data}, Stdin: half, Code: 1, Want: []string{"stdin", "truncated"}},
		{Name: "flipped byte", Args: []string{"-model", flippedPath, "-data", data}, Code: 1, Want: []string{"flipped.sgn", "checksum"}},
		{Name: "not a checkpoint", Args: []string{"-model", notCkpt, "-data", data}, Code: 1, Want: []string{"notckpt.sgn", "not an sgn checkpoint"}},
		{Name: "truncated stream", Args: []string{"-model", model, "-data", truncated}, Code: 1, Want: []string{"truncated.arrow", "truncated"}},
		{Name: "truncated stream on stdin", Args: []string{"-model", model}, Stdin: truncated, Code: 1, Want: []string{"stdin", "truncated"}},
		{Name: "shape", Args: []string{"-model", model, "-data", shape}, Code: 1, Want: []string{"shape.arrow", "[3 8 8]", "[1 28 28]"}},
		{Name: "label out of range", Args: []string{"-model", model, "-data", labels}, Code: 1, Want: []string{"labels.arrow", "example 40", "label -1"}},
		{Name: "NaN pixel", Args: []string{"-model", model, "-data", nan}, Code: 1, Want: []string{"nan.arrow", "example 50", "NaN"}},
		{Name: "both from stdin", Stdin: data, Code: 2, Want: []string{"-model", "-data", "stdin"}},
		{Name: "unknown flag", Args: []string{"-bogus", "-model", model, "-data", data}, Code: 2, Want: []string{"-bogus"}},
		{Name: "unknown loss", Args: []string{"-loss", "mse", "-model", model, "-data", data}, Code: 2, Want: []string{"mse"}},
		{Name: "zero batch", Args: []string{"-batch", "0", "-model", model, "-data", data}, Code: 2, Want: []string{"-batch 0"}},
	})
}

// A failed run leaves no output file, and none in a missing directory.
func TestFailedRunLeavesNoOutput(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	model := filepath.Join(dir, "sgn.sgn")
	r := tools.Run(t, self, nil, "-model", model, "-data", filepath.Join(dir, "test.arrow"), "-o", filepath.Join(tmp, "missing", "g.arrow"))
	clitest.AssertOneLineError(t, r, 1, "missing/g.arrow")
	r = tools.Run(t, self, nil, "-model", model, "-data", model, "-o", filepath.Join(tmp, "g.arrow"))
	clitest.AssertOneLineError(t, r, 1, "not an Arrow IPC stream")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

func TestHelp(t *testing.T) {
	clitest.AssertHelp(t, tools.Run(t, self, nil, "-h"), "-self")
	clitest.AssertVersion(t, tools.Run(t, self, nil, "-version"))
}

// TestTerminalStdin checks that the tool refuses to wait for its binary
// input from a terminal.
func TestTerminalStdin(t *testing.T) {
	clitest.AssertRefusesTerminal(t, self, run, "-data", "test.arrow")
}
