package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgn/format/safetensors"
	"sgn/shared/classifier"
	"sgn/shared/cli/clitest"
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-convert, and the tools that make its inputs are built once.

const self = "sgn-convert"

var tools = clitest.New(self, "sgn-fetch", "sgn-train")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// fixture holds 64 MNIST test examples and a plain and an SGN MLP.
var fixture = tools.NewFixture(clitest.MLPs)

func load(t *testing.T, b []byte) *classifier.Classifier {
	t.Helper()
	c, err := classifier.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("load converted checkpoint: %v", err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	dir := fixture.Dir(t)
	for _, model := range []string{"m.sgn", "sgn.sgn"} {
		t.Run(model, func(t *testing.T) {
			path := filepath.Join(dir, model)
			orig := load(t, clitest.ReadFile(t, path))
			// File in, stdout out; then stdin in, -o out.
			st := tools.MustRun(t, self, nil, "-to", "safetensors", path)
			f, err := safetensors.Decode(bytes.NewReader(st.Stdout))
			if err != nil {
				t.Fatalf("output is not safetensors: %v", err)
			}
			if _, ok := f.Tensor("fc1.weight"); !ok && orig.SGN == nil {
				t.Errorf("no fc1.weight in %v", f.Tensors)
			}
			if f.Metadata[safetensors.KeyModel] == "" || (orig.SGN != nil) != (f.Metadata[safetensors.KeySGN] != "") {
				t.Errorf("metadata %v lacks the model or SGN configuration", f.Metadata)
			}
			out := filepath.Join(t.TempDir(), "back.sgn")
			r := tools.MustRun(t, self, st.Stdout, "-to", "sgn", "-o", out)
			if len(r.Stdout) != 0 {
				t.Errorf("wrote %d bytes to stdout with -o", len(r.Stdout))
			}
			back := load(t, clitest.ReadFile(t, out))
			if back.Describe() != orig.Describe() || string(back.Train) != string(orig.Train) {
				t.Errorf("converted back: %s, want %s", back.Describe(), orig.Describe())
			}
			for i, p := range orig.Net.Params {
				if !slices.Equal(back.Net.Params[i].Data, p.Data) {
					t.Errorf("parameter %s changed in the round trip", p.Name)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	dir := fixture.Dir(t)
	model := filepath.Join(dir, "m.sgn")
	st := tools.MustRun(t, self, nil, "-to", "safetensors", model).Stdout
	good := clitest.WriteFile(t, t.TempDir(), "m.safetensors", st)
	f, err := safetensors.Decode(bytes.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name string, change func(f *safetensors.File)) string {
		g := *f
		g.Tensors = slices.Clone(f.Tensors)
		g.Metadata = map[string]string{}
		for k, v := range f.Metadata {
			g.Metadata[k] = v
		}
		change(&g)
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, &g); err != nil {
			t.Fatal(err)
		}
		return clitest.WriteFile(t, t.TempDir(), name, buf.Bytes())
	}
	missing := edit("missing.safetensors", func(g *safetensors.File) { g.Tensors = g.Tensors[1:] })
	bare := edit("bare.safetensors", func(g *safetensors.File) { g.Metadata = nil })
	truncated := clitest.WriteFile(t, t.TempDir(), "short.safetensors", st[:len(st)-10])
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "no -to", Args: []string{model}, Code: 2, Want: []string{`-to ""`}},
		{Name: "bad -to", Args: []string{"-to", "onnx", model}, Code: 2, Want: []string{"want safetensors or sgn"}},
		{Name: "arch for a checkpoint", Args: []string{"-to", "safetensors", "-arch", "mlp", model}, Code: 2, Want: []string{"-arch applies to -to sgn"}},
		{Name: "two inputs", Args: []string{"-to", "sgn", good, good}, Code: 2, Want: []string{"one input file"}},
		{Name: "no such file", Args: []string{"-to", "sgn", filepath.Join(dir, "nope")}, Code: 1, Want: []string{"nope"}},
		{Name: "checkpoint to sgn", Args: []string{"-to", "sgn", model}, Code: 1, Want: []string{model, "use -to safetensors"}},
		{Name: "safetensors to safetensors", Args: []string{"-to", "safetensors"}, Stdin: good, Code: 1, Want: []string{"stdin", "use -to sgn"}},
		{Name: "truncated", Args: []string{"-to", "sgn", truncated}, Code: 1, Want: []string{truncated, "truncated: tensor data"}},
		{Name: "missing tensor", Args: []string{"-to", "sgn", missing}, Code: 1, Want: []string{missing, "missing fc1.weight"}},
		{Name: "no architecture", Args: []string{"-to", "sgn", bare}, Code: 1, Want: []string{bare, "give -arch"}},
		{Name: "other architecture", Args: []string{"-to", "sgn", "-arch", "cifar-cnn", good}, Code: 1, Want: []string{"names architecture mlp, not cifar-cnn"}},
	})
}

func TestBareStateDict(t *testing.T) {
	dir := fixture.Dir(t)
	st := tools.MustRun(t, self, nil, "-to", "safetensors", filepath.Join(dir, "m.sgn")).Stdout
	f, err := safetensors.Decode(bytes.NewReader(st))
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata = nil
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	r := tools.MustRun(t, self, buf.Bytes(), "-to", "sgn", "-arch", "mlp")
	c := load(t, r.Stdout)
	if got := c.Net.Config; !slices.Equal(got.InShape, []int{1, 28, 28}) || got.Classes != 10 || got.Std[0] != 1 {
		t.Errorf("inferred %+v, want [1 28 28], 10 classes, no normalisation", got)
	}
	if !bytes.Contains([]byte(r.Stderr), []byte("no input normalisation")) {
		t.Errorf("stderr %q does not note the missing normalisation", r.Stderr)
	}
}

func TestHelp(t *testing.T) {
	clitest.AssertHelp(t, tools.Run(t, self, nil, "-h"), "-arch")
	clitest.AssertVersion(t, tools.Run(t, self, nil, "-version"))
}

// TestTerminalStdin checks that the tool refuses to wait for its binary
// input from a terminal.
func TestTerminalStdin(t *testing.T) {
	clitest.AssertRefusesTerminal(t, self, run, "-to", "safetensors")
}
