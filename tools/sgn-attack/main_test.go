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
	"strconv"
	"strings"
	"sync"
	"testing"

	"sgn/format/stream"
	"sgn/shared/dataset"
	"sgn/shared/score"
)

// The tests run the tools as a user would: this test binary stands in for
// sgn-attack (TestMain runs main when asked to), and the other tools of the
// pipeline are built once into a temporary directory.

const self = "sgn-attack"

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
	buildErr = buildTools(dir, "sgn-fetch", "sgn-train", "sgn-score")
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

type result struct {
	code   int
	stdout []byte
	stderr string
}

// runTool runs a tool with stdin (nil: no input) and returns its exit code
// and output.
func runTool(stdin []byte, tool string, args ...string) (result, error) {
	var cmd *exec.Cmd
	if tool == self {
		exe, err := os.Executable()
		if err != nil {
			return result{}, err
		}
		cmd = exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "SGN_TEST_RUN_AS="+self)
	} else {
		if buildErr != nil {
			return result{}, buildErr
		}
		cmd = exec.Command(filepath.Join(toolDir, tool), args...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "SGN_CACHE="+filepath.Join(toolDir, "cache"))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
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

// fixture holds 64 MNIST test examples, a plain MLP and an SGN MLP trained
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
		steps := [][]string{
			{"sgn-fetch", "-split", "test", "-limit", "64", "-from", mnist, "-o", filepath.Join(dir, "test.arrow"), "mnist"},
			{"sgn-train", "-arch", "mlp", "-epochs", "1", "-batch", "32", "-data", filepath.Join(dir, "test.arrow"), "-o", filepath.Join(dir, "m.sgn")},
			{"sgn-train", "-arch", "mlp", "-epochs", "1", "-batch", "32", "-sgn", "-sg-phi", "l2", "-adv", "fgsm",
				"-data", filepath.Join(dir, "test.arrow"), "-o", filepath.Join(dir, "sgn.sgn")},
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

func readStream(t *testing.T, data []byte) (stream.Header, *stream.Batch) {
	t.Helper()
	h, b, err := stream.ReadAll(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("read stream back: %v", err)
	}
	return h, b
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
	r := mustRun(t, stdin, "sgn-score", append([]string{"-json"}, args...)...)
	var rep report
	if err := json.Unmarshal(r.stdout, &rep); err != nil {
		t.Fatalf("sgn-score -json printed %q: %v", r.stdout, err)
	}
	return rep
}

// checkAttackStream checks an attack stream against the clean examples:
// every image within eps of its clean one and in [0,1], the linf column
// equal to the distance recomputed from the pixels, and returns the
// example indices it covers.
func checkAttackStream(t *testing.T, out []byte, clean []byte, eps float64) []int64 {
	t.Helper()
	ch, cb := readStream(t, clean)
	cleanX := ch.Float32Images(cb, nil)
	h, b := readStream(t, out)
	if got := h.Metadata[score.MetaEps]; got != strconv.FormatFloat(eps, 'g', -1, 64) {
		t.Errorf("metadata %s = %q, want %g", score.MetaEps, got, eps)
	}
	if !slices.Equal(h.Shape, ch.Shape) || h.Elem != stream.Float32 {
		t.Fatalf("attack stream of %v %v images, want float32 %v", h.Elem, h.Shape, ch.Shape)
	}
	d := h.ExampleSize()
	idx, ok1 := b.Column(score.ColIndex)
	linf, ok2 := b.Column(score.ColLinf)
	if !ok1 || !ok2 || idx.Len() != b.Len() || linf.Len() != b.Len() {
		t.Fatalf("attack stream lacks full %s and %s columns: %+v", score.ColIndex, score.ColLinf, h.Extra)
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
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	clean := scoreJSON(t, nil, "-model", model, data)
	if clean.N != 64 || clean.Accuracy < 0 || clean.Accuracy > 1 {
		t.Fatalf("clean score %+v, want n=64 and an accuracy in [0,1]", clean)
	}
	r := mustRun(t, nil, self, "-pgd", "-steps", "3", "-eps", "0.25", "-model", model, "-data", data)
	if !strings.Contains(r.stderr, "pgd eps=0.25 on 64 examples") {
		t.Errorf("stderr %q, want the summary line", r.stderr)
	}
	idx := checkAttackStream(t, r.stdout, readFile(t, data), 0.25)
	if len(idx) != 64 {
		t.Errorf("attack stream has %d examples, want 64", len(idx))
	}
	adv := scoreJSON(t, r.stdout)
	if adv.N != 64 || adv.CleanAccuracy == nil || adv.Accuracy > *adv.CleanAccuracy || *adv.CleanAccuracy != clean.Accuracy {
		t.Errorf("attack score %+v; want n=64, accuracy <= clean accuracy %g", adv, clean.Accuracy)
	}
	// Run through the model again, the adversarial images give the
	// predictions the stream carries.
	if again := scoreJSON(t, r.stdout, "-model", model); again.N != 64 || again.Accuracy != adv.Accuracy {
		t.Errorf("adversarial images rescored with -model: %+v, want the stream's accuracy %g", again, adv.Accuracy)
	}
}

// The checkpoint can come from stdin when the examples come from -data.
func TestModelFromStdin(t *testing.T) {
	dir := fixture(t)
	data := filepath.Join(dir, "test.arrow")
	r := mustRun(t, readFile(t, filepath.Join(dir, "m.sgn")), self, "-fgsm", "-eps", "0.1", "-data", data)
	if idx := checkAttackStream(t, r.stdout, readFile(t, data), 0.1); len(idx) != 64 {
		t.Errorf("attack stream has %d examples, want 64", len(idx))
	}
	h, _ := readStream(t, r.stdout)
	if h.Metadata[score.MetaAttack] != "fgsm" {
		t.Errorf("metadata %s = %q, want fgsm", score.MetaAttack, h.Metadata[score.MetaAttack])
	}
}

func TestShards(t *testing.T) {
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	clean := readFile(t, data)
	var all []int64
	var files []string
	for i := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("shard%d.arrow", i))
		mustRun(t, nil, self, "-fgsm", "-shard", fmt.Sprintf("%d/2", i), "-model", model, "-data", data, "-o", out)
		idx := checkAttackStream(t, readFile(t, out), clean, 0.3)
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
	dir := fixture(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn")
	clean := readFile(t, data)
	for _, mode := range []string{"", "exact", "detached"} {
		t.Run("sg-grad="+mode, func(t *testing.T) {
			args := []string{"-pgd", "-steps", "2", "-model", model, "-data", data}
			if mode != "" {
				args = append(args, "-sg-grad", mode)
			}
			r := mustRun(t, nil, self, args...)
			if idx := checkAttackStream(t, r.stdout, clean, 0.3); len(idx) != 64 {
				t.Errorf("attack stream has %d examples, want 64", len(idx))
			}
			h, _ := readStream(t, r.stdout)
			want := cmp(mode, "exact")
			if got := h.Metadata["sgn.attack.sg_grad"]; got != want {
				t.Errorf("metadata sgn.attack.sg_grad = %q, want %q", got, want)
			}
			if rep := scoreJSON(t, r.stdout); rep.N != 64 || rep.CleanAccuracy == nil || rep.Accuracy > *rep.CleanAccuracy {
				t.Errorf("score %+v, want n=64 and accuracy <= clean accuracy", rep)
			}
		})
	}
	// SGN options are refused for a plain model.
	r, err := runTool(nil, self, "-fgsm", "-sg-grad", "detached", "-model", filepath.Join(dir, "m.sgn"), "-data", data)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 2, "SGN models only")
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
	model := readFile(t, filepath.Join(dir, "m.sgn"))
	data := readFile(t, filepath.Join(dir, "test.arrow"))
	files := map[string]string{}
	put := func(name string, b []byte) {
		files[name] = filepath.Join(tmp, name)
		if err := os.WriteFile(files[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("half.sgn", model[:len(model)/2])
	flipped := slices.Clone(model)
	flipped[len(flipped)/2] ^= 0x40
	put("flipped.sgn", flipped)
	put("notckpt.sgn", []byte("this is not a checkpoint\n"))
	put("truncated.arrow", data[:len(data)*2/3])

	h, b := readStream(t, data)
	small := stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata}
	files["shape.arrow"] = filepath.Join(tmp, "shape.arrow")
	writeStream(t, files["shape.arrow"], small, &stream.Batch{Pixels: make([]uint8, 4*3*8*8), Labels: []int64{0, 1, 2, 3}})

	labels := *b
	labels.Labels = slices.Clone(b.Labels)
	labels.Labels[5] = 12
	files["labels.arrow"] = filepath.Join(tmp, "labels.arrow")
	writeStream(t, files["labels.arrow"], h, &labels)

	fh := h
	fh.Elem = stream.Float32
	fh.Metadata = map[string]string{stream.MetaPixelScale: "1", stream.MetaDataset: "mnist"}
	floats := h.Float32Images(b, nil)
	floats[7*h.ExampleSize()+100] = float32(math.NaN())
	files["nan.arrow"] = filepath.Join(tmp, "nan.arrow")
	writeStream(t, files["nan.arrow"], fh, &stream.Batch{Floats: floats, Labels: b.Labels})
	return files
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture(t)
	bad := badInputs(t, dir)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	tests := []struct {
		name  string
		args  []string
		stdin string // file given on stdin
		code  int
		want  []string
	}{
		{"truncated checkpoint", []string{"-fgsm", "-model", bad["half.sgn"], "-data", data}, "", 1, []string{"half.sgn", "truncated"}},
		{"truncated checkpoint on stdin", []string{"-fgsm", "-data", data}, bad["half.sgn"], 1, []string{"truncated"}},
		{"flipped byte", []string{"-fgsm", "-model", bad["flipped.sgn"], "-data", data}, "", 1, []string{"flipped.sgn", "checksum"}},
		{"not a checkpoint", []string{"-fgsm", "-model", bad["notckpt.sgn"], "-data", data}, "", 1, []string{"notckpt.sgn", "not an sgn checkpoint"}},
		{"examples as checkpoint", []string{"-fgsm", "-model", data, "-data", data}, "", 1, []string{"not an sgn checkpoint"}},
		{"truncated stream", []string{"-fgsm", "-model", model, "-data", bad["truncated.arrow"]}, "", 1, []string{"truncated.arrow", "truncated"}},
		{"checkpoint as stream", []string{"-fgsm", "-model", model, "-data", model}, "", 1, []string{"m.sgn", "not an Arrow IPC stream"}},
		{"shape", []string{"-fgsm", "-model", model, "-data", bad["shape.arrow"]}, "", 1, []string{"shape.arrow", "[3 8 8]"}},
		{"label out of range", []string{"-fgsm", "-model", model, "-data", bad["labels.arrow"]}, "", 1, []string{"labels.arrow", "example 5", "label 12"}},
		{"NaN pixel", []string{"-pgd", "-steps", "1", "-model", model, "-data", bad["nan.arrow"]}, "", 1, []string{"nan.arrow", "example 7", "NaN"}},
		{"missing data file", []string{"-fgsm", "-model", model, "-data", filepath.Join(dir, "nope.arrow")}, "", 1, []string{"nope.arrow"}},
		{"unknown flag", []string{"-fgsm", "-bogus", "-model", model, "-data", data}, "", 2, []string{"-bogus"}},
		{"no attack", []string{"-model", model, "-data", data}, "", 2, []string{"choose exactly one attack"}},
		{"two attacks", []string{"-fgsm", "-pgd", "-model", model, "-data", data}, "", 2, []string{"choose exactly one attack"}},
		{"both from stdin", []string{"-fgsm"}, data, 2, []string{"-model", "-data", "stdin"}},
		{"bad shard", []string{"-fgsm", "-shard", "2/2", "-model", model, "-data", data}, "", 2, []string{"2/2"}},
		{"bad norm", []string{"-fgsm", "-norm", "l1", "-model", model, "-data", data}, "", 2, []string{"l1"}},
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

func TestOutputIntoMissingDirectory(t *testing.T) {
	dir := fixture(t)
	tmp := t.TempDir()
	r, err := runTool(nil, self, "-fgsm", "-model", filepath.Join(dir, "m.sgn"), "-data", filepath.Join(dir, "test.arrow"),
		"-o", filepath.Join(tmp, "missing", "adv.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 1, "missing/adv.arrow")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

// A run that fails part-way leaves no output file.
func TestFailedRunLeavesNoOutput(t *testing.T) {
	dir := fixture(t)
	bad := badInputs(t, dir)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "adv.arrow")
	r, err := runTool(nil, self, "-fgsm", "-batch", "2", "-model", filepath.Join(dir, "m.sgn"), "-data", bad["labels.arrow"], "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, r, 1, "label 12")
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}

func TestHelp(t *testing.T) {
	r, err := runTool(nil, self, "-h")
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || !strings.Contains(r.stderr, "Usage: sgn-attack") || !strings.Contains(r.stderr, "Examples:") ||
		!strings.Contains(r.stderr, "-pgd") || len(r.stdout) != 0 {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage with flags and examples", r.code, r.stderr)
	}
}
