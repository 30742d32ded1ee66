package clitest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"sgn/shared/dataset"
	"sgn/shared/testenv"
)

// OfflineMNIST returns the directory of the offline copy of MNIST, or the
// error (naming the file) of looking for its test images.
func OfflineMNIST() (string, error) {
	dir := dataset.DefaultOfflineDirs()["mnist"][0]
	if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
		return "", err
	}
	return dir, nil
}

// A Fixture is a directory of files that runs of tools make once, when a
// test first asks for it, for all the tests of a test binary.
type Fixture struct {
	tools     *Tools
	steps     func(mnist, dir string) [][]string
	once      sync.Once
	dir       string
	skip, err string
}

// NewFixture returns the fixture that the runs steps returns make, in
// order, into its directory dir: each step is a tool and its arguments,
// and mnist is the offline copy of MNIST.
func (ts *Tools) NewFixture(steps func(mnist, dir string) [][]string) *Fixture {
	return &Fixture{tools: ts, steps: steps}
}

// Dir makes the fixture if no test has yet and returns its directory. It
// skips the test when the offline copy of MNIST is not installed, and
// fails it when a step failed.
func (f *Fixture) Dir(t testing.TB) string {
	t.Helper()
	f.once.Do(func() {
		mnist, err := OfflineMNIST()
		if err != nil {
			f.skip = fmt.Sprintf("offline MNIST copy not installed (make setup): %v", err)
			return
		}
		dir := filepath.Join(f.tools.dir, "fixture")
		steps := f.steps(mnist, dir)
		if err := os.Mkdir(dir, 0o755); err != nil {
			f.err = err.Error()
			return
		}
		for _, s := range steps {
			r, err := f.tools.Exec(s[0], nil, s[1:]...)
			if err != nil || r.Code != 0 {
				f.err = fmt.Sprintf("%v: exit %d, %v, stderr %q", s, r.Code, err, r.Stderr)
				return
			}
		}
		f.dir = dir
	})
	if f.skip != "" {
		testenv.Skipf(t, testenv.MNIST, "%s", f.skip)
	}
	if f.err != "" {
		t.Fatal(f.err)
	}
	return f.dir
}

// FetchMNIST is the step that writes the first n examples of the MNIST
// test split in the offline copy mnist to out.
func FetchMNIST(mnist string, n int, out string) []string {
	return []string{"sgn-fetch", "-split", "test", "-limit", strconv.Itoa(n), "-from", mnist, "-o", out, "mnist"}
}

// TrainMLP is the step that has tool (sgn-train, or a test binary standing
// in for it) train an MLP for an epoch in batches of 32 on the examples in
// data, with flags, and write it to out.
func TrainMLP(tool, data, out string, flags ...string) []string {
	return slices.Concat([]string{tool, "-arch", "mlp", "-epochs", "1", "-batch", "32"}, flags, []string{"-data", data, "-o", out})
}

// MLPs are the steps of a fixture of 64 MNIST test examples, test.arrow,
// and two MLPs trained on them: a plain one, m.sgn, and an SGN with phi l2
// and FGSM training, sgn.sgn.
func MLPs(mnist, dir string) [][]string {
	data := filepath.Join(dir, "test.arrow")
	return [][]string{
		FetchMNIST(mnist, 64, data),
		TrainMLP("sgn-train", data, filepath.Join(dir, "m.sgn")),
		TrainMLP("sgn-train", data, filepath.Join(dir, "sgn.sgn"), "-sgn", "-sg-phi", "l2", "-adv", "fgsm"),
	}
}
