package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// Inputs a hostile or careless user gives (issue 17): the same values in
// other shapes, a stream without examples, checkpoints re-sealed with
// lying configurations, a batch that cannot fit.
func TestHostileInputs(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, data))
	tmp := t.TempDir()
	shaped := func(shape ...int) string {
		path := filepath.Join(tmp, fmt.Sprintf("shape%v.arrow", shape))
		clitest.WriteStream(t, path, stream.Header{Shape: shape, Elem: h.Elem, Metadata: h.Metadata}, b)
		return path
	}
	empty := filepath.Join(tmp, "empty.arrow")
	clitest.WriteStream(t, empty, h, nil)
	inShape := func(s ...int) string {
		path := filepath.Join(tmp, fmt.Sprintf("in%v.sgn", s))
		os.WriteFile(path, clitest.Reseal(t, model, func(c map[string]any) { c["model"].(map[string]any)["in_shape"] = s }), 0o644)
		return path
	}
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "flat", Args: []string{"-fgsm", "-model", model, "-data", shaped(784)}, Code: 1, Want: []string{"shape[784].arrow", "shape [784], the model takes [1 28 28]"}},
		{Name: "two dimensions", Args: []string{"-fgsm", "-model", model, "-data", shaped(28, 28)}, Code: 1, Want: []string{"shape [28 28], the model takes [1 28 28]"}},
		{Name: "four dimensions", Args: []string{"-fgsm", "-model", model, "-data", shaped(1, 1, 28, 28)}, Code: 1, Want: []string{"shape [1 1 28 28], the model takes [1 28 28]"}},
		{Name: "no examples", Args: []string{"-fgsm", "-model", model, "-data", empty}, Code: 1, Want: []string{"empty.arrow", "no examples"}},
		{Name: "input too large to build", Args: []string{"-fgsm", "-model", inShape(1, 8, 1000000), "-data", data}, Code: 1, Want: []string{"in[1 8 1000000].sgn", "a model may have"}},
		{Name: "input unlike the tensors", Args: []string{"-fgsm", "-model", inShape(1, 1000, 1000), "-data", data}, Code: 1, Want: []string{"fc1.w has shape [784 256], mlp needs [1000000 256]"}},
		{Name: "batch that cannot fit", Args: []string{"-fgsm", "-batch", "1000000000", "-model", model, "-data", data}, Code: 1, Want: []string{"at batch 1000000000 needs at least"}},
	})
}

// SIGINT and SIGTERM stop an attack at its next query of the model, leave
// no temporary file, and end the tool by the signal.
func TestStopsOnSignals(t *testing.T) {
	dir := fixture.Dir(t)
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		out := t.TempDir()
		state, stderr := tools.Interrupt(t, self, h, b, sig, "-pgd", "-steps", "1000", "-model", filepath.Join(dir, "m.sgn"), "-o", filepath.Join(out, "adv.arrow"))
		clitest.AssertInterrupted(t, state, stderr, self, sig)
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("after %v the output directory holds %v", sig, entries)
		}
	}
}

// -o writes through a FIFO and a device, and replaces neither.
func TestOutputThroughFIFOAndDevice(t *testing.T) {
	dir := fixture.Dir(t)
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := clitest.ReadFIFO(t, fifo)
	args := []string{"-fgsm", "-model", filepath.Join(dir, "m.sgn"), "-data", filepath.Join(dir, "test.arrow"), "-o"}
	tools.MustRun(t, self, nil, append(args, fifo)...)
	if _, b := clitest.ReadStream(t, got()); b.Len() != 64 {
		t.Errorf("the FIFO's reader got %d examples, want 64", b.Len())
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v (%v)", st.Mode(), err)
	}
	null := filepath.Join(tmp, "null") // like /dev/null, made here
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	tools.MustRun(t, self, nil, append(args, null)...)
	if st, err := os.Lstat(null); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("the device is now %v (%v)", st.Mode(), err)
	}
}
