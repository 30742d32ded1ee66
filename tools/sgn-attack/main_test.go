package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// The tests run the tools as a user would: this test binary stands in for
// sgn-attack (TestMain runs main when asked to), and the other tools of the
// pipeline are built once into a temporary directory.

const self = "sgn-attack"

var tools = clitest.New(self, "sgn-fetch", "sgn-train", "sgn-score")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// fixture holds 64 MNIST test examples, a plain MLP and an SGN MLP trained
// on them, made once for all tests.
var fixture = tools.NewFixture(clitest.MLPs)

func scoreJSON(t *testing.T, stdin []byte, args ...string) clitest.ScoreReport {
	t.Helper()
	r := tools.MustRun(t, "sgn-score", stdin, append([]string{"-json"}, args...)...)
	var rep clitest.ScoreReport
	if err := json.Unmarshal(r.Stdout, &rep); err != nil {
		t.Fatalf("sgn-score -json printed %q: %v", r.Stdout, err)
	}
	return rep
}

// checkAttackStream checks an attack stream against the clean examples:
// every image within eps of its clean one and in [0,1], the linf column
// equal to the distance recomputed from the pixels, and returns the
// example indices it covers.
func checkAttackStream(t *testing.T, out []byte, clean []byte, eps float64) []int64 {
	t.Helper()
	ch, cb := clitest.ReadStream(t, clean)
	cleanX := ch.Float32Images(cb, nil)
	h, b := clitest.ReadStream(t, out)
	if got := h.Metadata[stream.MetaAttackEps]; got != strconv.FormatFloat(eps, 'g', -1, 64) {
		t.Errorf("metadata %s = %q, want %g", stream.MetaAttackEps, got, eps)
	}
	if !slices.Equal(h.Shape, ch.Shape) || h.Elem != stream.Float32 {
		t.Fatalf("attack stream of %v %v images, want float32 %v", h.Elem, h.Shape, ch.Shape)
	}
	d := h.ExampleSize()
	idx, ok1 := b.Column(stream.ColIndex)
	linf, ok2 := b.Column(stream.ColLinf)
	if !ok1 || !ok2 || idx.Len() != b.Len() || linf.Len() != b.Len() {
		t.Fatalf("attack stream lacks full %s and %s columns: %+v", stream.ColIndex, stream.ColLinf, h.Extra)
	}
	x := h.Float32Images(b, nil)
	const tol = 1e-6
	for i := range b.Len() {
		j := idx.Int64[i]
		if j < 0 || int(j) >= cb.Len() || b.Labels[i] != cb.Labels[j] {
			t.Fatalf("row %d: index %d, label %d do not match the clean stream", i, j, b.Labels[i])
		}
		var dist float64
		for k, v := range x[i*d : (i+1)*d] {
			if v < 0 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("example %d: pixel %d is %v, outside [0,1]", j, k, v)
			}
			dist = max(dist, math.Abs(float64(v-cleanX[int(j)*d+k])))
		}
		if dist > eps+tol {
			t.Errorf("example %d is %g from its clean image, beyond eps %g", j, dist, eps)
		}
		if l := float64(linf.Float32[i]); l > eps+tol || math.Abs(l-dist) > tol {
			t.Errorf("example %d: linf column %g, recomputed %g (eps %g)", j, l, dist, eps)
		}
	}
	return idx.Int64
}

func TestPGDPipeline(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	clean := scoreJSON(t, nil, "-model", model, data)
	if clean.N != 64 || clean.Accuracy < 0 || clean.Accuracy > 1 {
		t.Fatalf("clean score %+v, want n=64 and an accuracy in [0,1]", clean)
	}
	r := tools.MustRun(t, self, nil, "-pgd", "-steps", "3", "-eps", "0.25", "-model", model, "-data", data)
	if !strings.Contains(r.Stderr, "pgd eps=0.25 on 64 examples") {
		t.Errorf("stderr %q, want the summary line", r.Stderr)
	}
	idx := checkAttackStream(t, r.Stdout, clitest.ReadFile(t, data), 0.25)
	if len(idx) != 64 {
		t.Errorf("attack stream has %d examples, want 64", len(idx))
	}
	adv := scoreJSON(t, r.Stdout)
	if adv.N != 64 || adv.CleanAccuracy == nil || adv.Accuracy > *adv.CleanAccuracy || *adv.CleanAccuracy != clean.Accuracy {
		t.Errorf("attack score %+v; want n=64, accuracy <= clean accuracy %g", adv, clean.Accuracy)
	}
	// Run through the model again, the adversarial images give the
	// predictions the stream carries.
	if again := scoreJSON(t, r.Stdout, "-model", model); again.N != 64 || again.Accuracy != adv.Accuracy {
		t.Errorf("adversarial images rescored with -model: %+v, want the stream's accuracy %g", again, adv.Accuracy)
	}
}

// The checkpoint can come from stdin when the examples come from -data.
func TestModelFromStdin(t *testing.T) {
	dir := fixture.Dir(t)
	data := filepath.Join(dir, "test.arrow")
	r := tools.MustRun(t, self, clitest.ReadFile(t, filepath.Join(dir, "m.sgn")), "-fgsm", "-eps", "0.1", "-data", data)
	if idx := checkAttackStream(t, r.Stdout, clitest.ReadFile(t, data), 0.1); len(idx) != 64 {
		t.Errorf("attack stream has %d examples, want 64", len(idx))
	}
	h, _ := clitest.ReadStream(t, r.Stdout)
	if h.Metadata[stream.MetaAttack] != "fgsm" {
		t.Errorf("metadata %s = %q, want fgsm", stream.MetaAttack, h.Metadata[stream.MetaAttack])
	}
}

func TestShards(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	clean := clitest.ReadFile(t, data)
	var all []int64
	var files []string
	for i := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("shard%d.arrow", i))
		tools.MustRun(t, self, nil, "-fgsm", "-shard", fmt.Sprintf("%d/2", i), "-model", model, "-data", data, "-o", out)
		idx := checkAttackStream(t, clitest.ReadFile(t, out), clean, 0.3)
		for _, j := range idx {
			if int(j)%2 != i {
				t.Errorf("shard %d/2 holds example %d", i, j)
			}
		}
		all = append(all, idx...)
		files = append(files, out)
	}
	slices.Sort(all)
	want := make([]int64, 64)
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(all, want) {
		t.Errorf("shards cover %v, want 0..63 once each", all)
	}
	rep := scoreJSON(t, nil, files...)
	if rep.N != 64 || len(rep.Attacks) != 1 || rep.Attacks[0].N != 64 || rep.Attacks[0].Attack != "fgsm" {
		t.Errorf("merged score %+v, want one fgsm attack over 64 examples", rep)
	}
}

func TestSGNModel(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
	clean := clitest.ReadFile(t, data)
	for _, mode := range []string{"", "exact", "detached"} {
		t.Run("sg-grad="+mode, func(t *testing.T) {
			args := []string{"-pgd", "-steps", "2", "-model", model, "-data", data}
			if mode != "" {
				args = append(args, "-sg-grad", mode)
			}
			r := tools.MustRun(t, self, nil, args...)
			if idx := checkAttackStream(t, r.Stdout, clean, 0.3); len(idx) != 64 {
				t.Errorf("attack stream has %d examples, want 64", len(idx))
			}
			h, _ := clitest.ReadStream(t, r.Stdout)
			want := cmp(mode, "exact")
			if got := h.Metadata[stream.MetaSGGrad]; got != want {
				t.Errorf("metadata sgn.attack.sg_grad = %q, want %q", got, want)
			}
			if rep := scoreJSON(t, r.Stdout); rep.N != 64 || rep.CleanAccuracy == nil || rep.Accuracy > *rep.CleanAccuracy {
				t.Errorf("score %+v, want n=64 and accuracy <= clean accuracy", rep)
			}
		})
	}
	// SGN options are refused for a plain model.
	r := tools.Run(t, self, nil, "-fgsm", "-sg-grad", "detached", "-model", filepath.Join(dir, "m.sgn"), "-data", data)
	clitest.AssertOneLineError(t, r, 2, "SGN models only")
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// badInputs writes the refused inputs the tests share into a temporary
// directory.
func badInputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	tmp := t.TempDir()
	model := clitest.ReadFile(t, filepath.Join(dir, "m.sgn"))
	data := clitest.ReadFile(t, filepath.Join(dir, "test.arrow"))
	files := map[string]string{}
	put := func(name string, b []byte) { files[name] = clitest.WriteFile(t, tmp, name, b) }
	put("half.sgn", model[:len(model)/2])
	flipped := slices.Clone(model)
	flipped[len(flipped)/2] ^= 0x40
	put("flipped.sgn", flipped)
	put("notckpt.sgn", []byte("this is not a checkpoint\n"))
	put("truncated.arrow", data[:len(data)*2/3])

	h, b := clitest.ReadStream(t, data)
	small := stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata}
	files["shape.arrow"] = filepath.Join(tmp, "shape.arrow")
	clitest.WriteStream(t, files["shape.arrow"], small, &stream.Batch{Pixels: make([]uint8, 4*3*8*8), Labels: []int64{0, 1, 2, 3}})

	files["labels.arrow"] = filepath.Join(tmp, "labels.arrow")
	clitest.WriteRelabelled(t, files["labels.arrow"], h, b, 5, 12)

	fh := h
	fh.Elem = stream.Float32
	fh.Metadata = map[string]string{stream.MetaPixelScale: "1", stream.MetaDataset: "mnist"}
	floats := h.Float32Images(b, nil)
	floats[7*h.ExampleSize()+100] = float32(math.NaN())
	files["nan.arrow"] = filepath.Join(tmp, "nan.arrow")
	clitest.WriteStream(t, files["nan.arrow"], fh, &stream.Batch{Floats: floats, Labels: b.Labels})
	return files
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture.Dir(t)
	bad := badInputs(t, dir)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "truncated checkpoint", Args: []string{"-fgsm", "-model", bad["half.sgn"], "-data", data}, Code: 1, Want: []string{"half.sgn", "truncated"}},
		{Name: "truncated checkpoint on stdin", Args: []string{"-fgsm", "-data", data}, Stdin: bad["half.sgn"], Code: 1, Want: []string{"truncated"}},
		{Name: "flipped byte", Args: []string{"-fgsm", "-model", bad["flipped.sgn"], "-data", data}, Code: 1, Want: []string{"flipped.sgn", "checksum"}},
		{Name: "not a checkpoint", Args: []string{"-fgsm", "-model", bad["notckpt.sgn"], "-data", data}, Code: 1, Want: []string{"notckpt.sgn", "not an sgn checkpoint"}},
		{Name: "examples as checkpoint", Args: []string{"-fgsm", "-model", data, "-data", data}, Code: 1, Want: []string{"not an sgn checkpoint"}},
		{Name: "truncated stream", Args: []string{"-fgsm", "-model", model, "-data", bad["truncated.arrow"]}, Code: 1, Want: []string{"truncated.arrow", "truncated"}},
		{Name: "checkpoint as stream", Args: []string{"-fgsm", "-model", model, "-data", model}, Code: 1, Want: []string{"m.sgn", "not an Arrow IPC stream"}},
		{Name: "shape", Args: []string{"-fgsm", "-model", model, "-data", bad["shape.arrow"]}, Code: 1, Want: []string{"shape.arrow", "[3 8 8]"}},
		{Name: "label out of range", Args: []string{"-fgsm", "-model", model, "-data", bad["labels.arrow"]}, Code: 1, Want: []string{"labels.arrow", "example 5", "label 12"}},
		{Name: "NaN pixel", Args: []string{"-pgd", "-steps", "1", "-model", model, "-data", bad["nan.arrow"]}, Code: 1, Want: []string{"nan.arrow", "example 7", "NaN"}},
		{Name: "missing data file", Args: []string{"-fgsm", "-model", model, "-data", filepath.Join(dir, "nope.arrow")}, Code: 1, Want: []string{"nope.arrow"}},
		{Name: "unknown flag", Args: []string{"-fgsm", "-bogus", "-model", model, "-data", data}, Code: 2, Want: []string{"-bogus"}},
		{Name: "no attack", Args: []string{"-model", model, "-data", data}, Code: 2, Want: []string{"choose exactly one attack"}},
		{Name: "two attacks", Args: []string{"-fgsm", "-pgd", "-model", model, "-data", data}, Code: 2, Want: []string{"choose exactly one attack"}},
		{Name: "both from stdin", Args: []string{"-fgsm"}, Stdin: data, Code: 2, Want: []string{"-model", "-data", "stdin"}},
		{Name: "bad shard", Args: []string{"-fgsm", "-shard", "2/2", "-model", model, "-data", data}, Code: 2, Want: []string{"2/2"}},
		{Name: "bad norm", Args: []string{"-fgsm", "-norm", "l1", "-model", model, "-data", data}, Code: 2, Want: []string{"l1"}},
	})
}

func TestOutputIntoMissingDirectory(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	r := tools.Run(t, self, nil, "-fgsm", "-model", filepath.Join(dir, "m.sgn"), "-data", filepath.Join(dir, "test.arrow"),
		"-o", filepath.Join(tmp, "missing", "adv.arrow"))
	clitest.AssertOneLineError(t, r, 1, "missing/adv.arrow")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

// A run that fails part-way leaves no output file.
func TestFailedRunLeavesNoOutput(t *testing.T) {
	dir := fixture.Dir(t)
	bad := badInputs(t, dir)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "adv.arrow")
	r := tools.Run(t, self, nil, "-fgsm", "-batch", "2", "-model", filepath.Join(dir, "m.sgn"), "-data", bad["labels.arrow"], "-o", out)
	clitest.AssertOneLineError(t, r, 1, "label 12")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

func TestHelp(t *testing.T) {
	clitest.AssertHelp(t, tools.Run(t, self, nil, "-h"), "-pgd")
	clitest.AssertVersion(t, tools.Run(t, self, nil, "-version"))
}

// TestTerminalStdin checks that the tool refuses to wait for its binary
// input from a terminal.
func TestTerminalStdin(t *testing.T) {
	clitest.AssertRefusesTerminal(t, self, run, "-pgd", "-data", "test.arrow")
}
