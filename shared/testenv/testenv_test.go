package testenv

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		env  string
		want map[string]bool
	}{
		{"", map[string]bool{MNIST: false, AVX2: false}},
		{"0", map[string]bool{MNIST: false, AVX2: false}},
		{"1", map[string]bool{MNIST: true, FashionMNIST: true, AVX2: true, "avx512": false}},
		{"mnist,avx2", map[string]bool{MNIST: true, FashionMNIST: false, AVX2: true}},
	}
	for _, tt := range tests {
		t.Setenv(Env, tt.env)
		for need, want := range tt.want {
			if got := Required(need); got != want {
				t.Errorf("%s=%q: Required(%q) = %v, want %v", Env, tt.env, need, got, want)
			}
		}
	}
}

// TestSkipf checks that Skipf skips by default and fails when the need is
// required, on a stand-in for testing.T.
func TestSkipf(t *testing.T) {
	for _, env := range []string{"", "1"} {
		t.Setenv(Env, env)
		var rec recorder
		func() {
			defer func() { recover() }() // Fatalf and Skipf stop the test
			Skipf(&rec, MNIST, "no %s here", "MNIST")
		}()
		if want := env == "1"; rec.failed != want || rec.skipped == want {
			t.Errorf("%s=%q: failed %v, skipped %v; want failed %v", Env, env, rec.failed, rec.skipped, want)
		}
	}
}

// recorder records what a test did instead of doing it.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic("fatal")
}
func (r *recorder) Skipf(string, ...any) {
	r.skipped = true
	panic("skip")
}
