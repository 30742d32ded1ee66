package engine_test

import (
	"runtime"
	"strings"
	"testing"

	"sgn/shared/engine"
)

// A program whose forward pass cannot fit in memory is refused when it is
// built, before its inputs are allocated: sgn-score -batch 1000000000 used
// to end in a fatal out-of-memory.
func TestProgramsThatDoNotFit(t *testing.T) {
	net := newTestNet(t, "mlp", []int{1, 28, 28}, 1)
	for _, tc := range []struct {
		name  string
		batch int
		opts  []engine.Option
		want  string // "": built
	}{
		{"batch of a billion", 1 << 30, nil, "mlp on 1x28x28 inputs at batch 1073741824 needs at least"},
		{"little memory", 64, []engine.Option{engine.WithMemory(1 << 20)}, "more than the 0.00105 GB of memory here"},
		{"enough memory", 64, []engine.Option{engine.WithMemory(1 << 30)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p, err := engine.NewLogits(net, tc.batch, tc.opts...)
			runtime.ReadMemStats(&after)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				p.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
				t.Errorf("refusing the program allocated %d bytes", n)
			}
			// An oracle compiles for the chunks it is given, so a tool asks
			// it whether its batch fits before reading any example.
			o := engine.NewOracle(net, tc.batch, tc.opts...)
			defer o.Close()
			if err := o.Fits(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("oracle: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
