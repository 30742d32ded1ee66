package kernels

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestKernelsName(t *testing.T) {
	for _, c := range []struct {
		fast, wide bool
		want       string
	}{
		{true, true, "AVX-512 6x32"},
		{true, false, "AVX2 6x16"},
		{false, false, "gonum, no AVX2+FMA kernels"},
		{false, true, "gonum, no AVX2+FMA kernels"}, // wide without fast never happens
	} {
		if got := name(c.fast, c.wide); got != c.want {
			t.Errorf("name(%v, %v) = %q, want %q", c.fast, c.wide, got, c.want)
		}
	}
	if got, want := Name(), name(fast, wide); got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
}

// TestKernelsEnv checks that SGN_KERNELS=avx2 keeps an AVX-512 CPU on the
// 6×16 kernels: it reruns this test binary with the variable set.
func TestKernelsEnv(t *testing.T) {
	if os.Getenv("SGN_TEST_PRINT_KERNELS") == "1" {
		os.Stdout.WriteString("kernels: " + Name() + "\n")
		return
	}
	if !hasAVX512() {
		t.Skip("no AVX-512: nothing to force")
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKernelsEnv$")
	cmd.Env = append(os.Environ(), "SGN_KERNELS=avx2", "SGN_TEST_PRINT_KERNELS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "kernels: AVX2 6x16\n") {
		t.Errorf("with SGN_KERNELS=avx2 the kernels are not AVX2 6x16:\n%s", out)
	}
	if Name() == "AVX2 6x16" && os.Getenv("SGN_KERNELS") != "avx2" {
		t.Errorf("Name() = %q on an AVX-512 CPU without SGN_KERNELS", Name())
	}
}
