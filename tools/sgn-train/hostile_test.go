package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/cli/clitest"
	"sgn/shared/train"
)

// zstdStream writes rows zero images of shape in one zstd record batch:
// megabytes of images in a few kilobytes.
func zstdStream(t *testing.T, path string, rows int, shape ...int) {
	t.Helper()
	h := stream.Header{Shape: shape, Elem: stream.Uint8}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h, stream.WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&stream.Batch{Pixels: make([]uint8, rows*h.ExampleSize()), Labels: make([]int64, rows)}); err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	clitest.WriteFile(t, filepath.Dir(path), filepath.Base(path), buf.Bytes())
}

// Data that makes a model too large to build, pixels the other tools
// refuse, and data that does not fill a batch are refused in one line
// naming the file (issue 17).
func TestHostileData(t *testing.T) {
	dir := fixture.Dir(t)
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")))
	tmp := t.TempDir()
	huge := filepath.Join(tmp, "huge.arrow")
	zstdStream(t, huge, 2, 1, 8, 1000000)
	square := filepath.Join(tmp, "square.arrow")
	zstdStream(t, square, 2, 1, 4096, 4096)
	pixel := func(name string, v float32, scale string) string {
		x := make([]float32, b.Len()*784)
		x[3*784+100] = v
		path := filepath.Join(tmp, name)
		clitest.WriteStream(t, path, stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: scale}},
			&stream.Batch{Floats: x, Labels: b.Labels})
		return path
	}
	// The same images cut short: the model is refused from the header,
	// before the examples are read (and take memory).
	sq := clitest.ReadFile(t, square)
	cut := clitest.WriteFile(t, tmp, "cut.arrow", sq[:len(sq)-40])
	classes := filepath.Join(tmp, "classes.arrow")
	names, _ := json.Marshal(make([]string, 200000))
	clitest.WriteStream(t, classes, stream.Header{Shape: h.Shape, Elem: h.Elem, Metadata: map[string]string{stream.MetaClasses: string(names)}}, b)
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "2.5 KB of huge images", Args: []string{"-epochs", "1", "-data", huge}, Code: 1, Want: []string{"huge.arrow", "madry-mnist on 1x8x1000000 inputs", "a model may have"}},
		{Name: "mlp on 4096x4096 images", Args: []string{"-arch", "mlp", "-epochs", "1", "-data", square}, Code: 1, Want: []string{"square.arrow", "(17.2 GB of float32)"}},
		{Name: "mlp on 4096x4096 images, refused before reading", Args: []string{"-arch", "mlp", "-epochs", "1", "-data", cut}, Code: 1, Want: []string{"cut.arrow", "(17.2 GB of float32)"}},
		{Name: "pixel 1e30", Args: []string{"-arch", "mlp", "-data", pixel("big.arrow", 1e30, "1")}, Code: 1, Want: []string{"big.arrow", "example 3 has pixel 1e+30 outside [0,1]"}},
		{Name: "pixel -1", Args: []string{"-arch", "mlp", "-data", pixel("neg.arrow", -1, "1")}, Code: 1, Want: []string{"neg.arrow", "pixel -1 outside [0,1]"}},
		{Name: "pixel scale 1e30", Args: []string{"-arch", "mlp", "-data", pixel("scale.arrow", 1e10, "1e30")}, Code: 1, Want: []string{"scale.arrow", "pixel +Inf outside [0,1]"}},
		{Name: "fewer than a batch", Args: []string{"-arch", "mlp", "-data", filepath.Join(dir, "test.arrow")}, Code: 1, Want: []string{"test.arrow: 64 training examples are fewer than one batch of 128"}},
		{Name: "200000 classes", Args: []string{"-arch", "mlp", "-batch", "32", "-data", classes}, Code: 1, Want: []string{"classes.arrow", "200000 classes"}},
	})
}

// A checkpoint's training progress is checked before the run goes on
// from it: a negative batch used to panic, and the rest was accepted.
func TestResumeRefusesImpossibleProgress(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	tmp := t.TempDir()
	var refusals []clitest.Refusal
	for _, tc := range []struct {
		key  string
		v    int
		want string
	}{
		{"batch", -1, "negative or non-finite count"},
		{"epoch", -1, "negative or non-finite count"},
		{"step", -5, "negative or non-finite count"},
		{"batch", 99999999, "batch 99999999 of a 1-epoch run"},
	} {
		path := filepath.Join(tmp, fmt.Sprintf("%s%d.sgn", tc.key, tc.v))
		os.WriteFile(path, clitest.Reseal(t, model, func(c map[string]any) {
			c["train"].(map[string]any)["progress"].(map[string]any)[tc.key] = tc.v
		}), 0o644)
		refusals = append(refusals, clitest.Refusal{Name: fmt.Sprintf("%s %d", tc.key, tc.v), Args: []string{"-data", data, "-resume", path, "-epochs", "3"},
			Code: 1, Want: []string{filepath.Base(path), tc.want}})
	}
	tools.AssertRefusals(t, self, refusals)
}

// An epoch resumed once complete (the snapshot of its last step) reports
// the loss of its batches, not 0.
func TestResumedCompleteEpochLogsItsLoss(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "run.sgn")
	// 640 examples in batches of 32: the snapshot of step 20 ends epoch 1
	// of 2 (the last step has no numbered snapshot: the final one is it).
	tools.MustRun(t, self, nil, "-arch", "mlp", "-epochs", "2", "-batch", "32", "-save-every", "20", "-data", filepath.Join(dir, "test640.arrow"), "-o", out)
	r := tools.MustRun(t, self, nil, "-resume", train.StepPath(out, 20), "-epochs", "2", "-data", filepath.Join(dir, "test640.arrow"), "-o", filepath.Join(tmp, "more.sgn"))
	got := epochLines(r.Stderr)
	if len(got) != 2 || !strings.HasPrefix(got[0], "epoch 1/2: loss ") || strings.HasPrefix(got[0], "epoch 1/2: loss 0.0000") {
		t.Errorf("stderr %q, want epoch 1 with its loss, then epoch 2", r.Stderr)
	}
}

// SIGTERM stops sgn-train while it reads its data, by the signal.
func TestStopsWhileReading(t *testing.T) {
	dir := fixture.Dir(t)
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")))
	out := t.TempDir()
	state, stderr := tools.Interrupt(t, self, h, b, syscall.SIGTERM, "-arch", "mlp", "-o", filepath.Join(out, "m.sgn"))
	clitest.AssertInterrupted(t, state, stderr, self, syscall.SIGTERM)
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("the output directory holds %v", entries)
	}
}

// -o is checked before any training, and never replaces what is not a
// regular file: devices and FIFOs are written through, symbolic links
// followed; a regular file keeps its mode and its hard links.
func TestOutputPaths(t *testing.T) {
	dir := fixture.Dir(t)
	data := filepath.Join(dir, "test.arrow")
	train := func(out string, flags ...string) clitest.Result {
		return tools.Run(t, self, nil, append([]string{"-arch", "mlp", "-epochs", "2", "-batch", "32", "-data", data, "-o", out}, flags...)...)
	}
	tmp := t.TempDir()
	file := clitest.WriteFile(t, tmp, "file", nil)

	for _, out := range []string{filepath.Join(tmp, "missing", "m.sgn"), filepath.Join(file, "m.sgn")} {
		r := train(out)
		clitest.AssertOneLineError(t, r, 1, out)
		if strings.Contains(r.Stderr, "epoch") {
			t.Errorf("-o %s: trained before refusing it: %q", out, r.Stderr)
		}
	}

	null := filepath.Join(tmp, "null") // like /dev/null (1,3), made here
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("no character device: mknod: %v", err)
	} else {
		if r := train(null); r.Code != 0 {
			t.Errorf("-o %s: exit %d, stderr %q", null, r.Code, r.Stderr)
		}
		if st, err := os.Lstat(null); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
			t.Errorf("the device is now %v (%v)", st.Mode(), err)
		}
		clitest.AssertOneLineError(t, train(null, "-save-every", "1"), 2, "-save-every needs -o to be a regular file")
	}

	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := clitest.ReadFIFO(t, fifo)
	if r := train(fifo); r.Code != 0 {
		t.Fatalf("-o FIFO: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// One checkpoint, the final one: the reader decodes it whole.
	if cls, err := classifier.Load(bytes.NewReader(got())); err != nil || !strings.Contains(string(cls.Train), `"done":true`) {
		t.Errorf("the FIFO's reader got %v", err)
	}

	target := filepath.Join(tmp, "target.sgn")
	link := filepath.Join(tmp, "link.sgn")
	if err := os.Symlink("target.sgn", link); err != nil {
		t.Fatal(err)
	}
	for range 2 { // first dangling, then to a file
		if r := train(link); r.Code != 0 {
			t.Fatalf("-o symlink: exit %d, stderr %q", r.Code, r.Stderr)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the symbolic link is now %v (%v)", st.Mode(), err)
		}
		if _, err := classifier.LoadFile(target); err != nil {
			t.Error(err)
		}
	}

	private := filepath.Join(tmp, "private.sgn")
	if err := os.WriteFile(private, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(tmp, "linked.sgn")
	if err := os.Link(private, linked); err != nil {
		t.Fatal(err)
	}
	// A temporary file a killed run left beside it is removed.
	gone := exec.Command("true")
	gone.Run()
	stale := clitest.WriteFile(t, tmp, ".private.sgn.tmp-"+strconv.Itoa(gone.Process.Pid)+"-00000000", []byte("half"))
	if r := train(private); r.Code != 0 {
		t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
	}
	if st, err := os.Stat(private); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the checkpoint's mode is now %v (%v), want 0600", st.Mode(), err)
	}
	if !bytes.Equal(clitest.ReadFile(t, private), clitest.ReadFile(t, linked)) {
		t.Errorf("the hard link to the checkpoint no longer shares its content")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale temporary file %s left in place", stale)
	}
}
