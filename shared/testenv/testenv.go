// Package testenv lets a test skip for something its machine lacks (a
// dataset, a CPU feature) only where that is expected: on a machine that
// is meant to have it, as CI is, the test fails instead, so that a broken
// setup cannot pass as a run of tests that all skipped. Go's own
// internal/testenv does the same on its builders.
package testenv

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Env is the environment variable that says what the machine is meant to
// have: "1" for everything CI provides (see Needs), or a comma-separated
// list of needs. make test sets it to 1.
const Env = "SGN_CI"

// Things a test may need, which CI provides.
const (
	MNIST        = "mnist"         // the offline MNIST copy, the GoMNIST module (make deps)
	FashionMNIST = "fashion-mnist" // Debian's dataset-fashion-mnist (make setup)
	AVX2         = "avx2"          // AVX2 and FMA, for the assembly kernels
)

// Needs lists what SGN_CI=1 requires. AVX-512 is not among them: CI's
// machines do not all have it.
func Needs() []string { return []string{MNIST, FashionMNIST, AVX2} }

// Required reports whether the machine is meant to have need, by Env.
func Required(need string) bool {
	v := os.Getenv(Env)
	switch v {
	case "", "0":
		return false
	case "1":
		return slices.Contains(Needs(), need)
	}
	return slices.Contains(strings.Split(v, ","), need)
}

// Skipf skips t for lacking need, with the reason given, or fails it when
// the machine is meant to have need.
func Skipf(t testing.TB, need, format string, args ...any) {
	t.Helper()
	if Required(need) {
		t.Fatalf("%s=%s says this machine has %s, but: "+format, append([]any{Env, os.Getenv(Env), need}, args...)...)
	}
	t.Skipf(format, args...)
}
