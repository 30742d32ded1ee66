package engine

import (
	"slices"
	"testing"
)

// TestSizeClass checks the chunk sizes programs are compiled for: never
// below the chunk, never above the batch, padding at most a quarter beyond
// 16 examples, and few distinct sizes.
func TestSizeClass(t *testing.T) {
	for _, tc := range []struct{ n, batch, want int }{
		{1, 128, 4}, {4, 128, 4}, {5, 128, 8}, {13, 128, 16}, {16, 128, 16},
		{17, 128, 20}, {33, 128, 40}, {65, 128, 80}, {119, 128, 128}, {128, 128, 128},
		{3, 2, 2}, {100, 100, 100}, {97, 100, 100},
	} {
		if got := sizeClass(tc.n, tc.batch); got != tc.want {
			t.Errorf("sizeClass(%d, %d) = %d, want %d", tc.n, tc.batch, got, tc.want)
		}
	}
	classes := map[int]bool{}
	for n := 1; n <= 256; n++ {
		c := sizeClass(n, 256)
		classes[c] = true
		if c < n || (n > 16 && float64(c-n) > 0.25*float64(c)) {
			t.Errorf("sizeClass(%d, 256) = %d", n, c)
		}
	}
	if len(classes) > 20 {
		t.Errorf("%d sizes up to 256, want at most 20", len(classes))
	}
}

// TestChunking checks that chunks of n examples are at most a batch each
// and as even as the batch allows.
func TestChunking(t *testing.T) {
	for _, tc := range []struct{ n, batch, per, size int }{
		{140, 128, 70, 80}, {237, 128, 119, 128}, {250, 128, 125, 128},
		{128, 128, 128, 128}, {129, 128, 65, 80}, {5, 128, 5, 8}, {1000, 128, 125, 128},
	} {
		o := &Oracle{batch: tc.batch}
		if per, size := o.chunking(tc.n); per != tc.per || size != tc.size {
			t.Errorf("chunking(%d) at batch %d = %d, %d; want %d, %d", tc.n, tc.batch, per, size, tc.per, tc.size)
		}
	}
}

// TestOracleBatchZero checks that an oracle without a batch refuses to
// run rather than dividing by zero.
func TestOracleBatchZero(t *testing.T) {
	o := &Oracle{batch: 0}
	err := o.chunks(3, func(lo, hi, size int) error {
		t.Fatal("ran a chunk")
		return nil
	})
	if err == nil {
		t.Fatal("no error")
	}
}

// TestOracleKeeps checks which programs an oracle keeps: the most recently
// used, while they cost at most keepBatches programs of the batch, each
// counted as its size plus programOverhead; a kept program is reused
// without compiling again.
func TestOracleKeeps(t *testing.T) {
	if keepBatches != 4 || programOverhead != 16 {
		t.Fatalf("the steps below assume keepBatches 4 and programOverhead 16")
	}
	type key struct {
		kind string
		size int
	}
	o := &Oracle{batch: 128} // budget 4·(128+16) = 576
	builds := 0
	kept := func() []key {
		var k []key
		for _, h := range o.progs {
			k = append(k, key{h.kind, h.p.Batch})
		}
		return k
	}
	for _, step := range []struct {
		kind   string
		size   int
		builds int
		kept   []key
	}{
		{"grad", 128, 1, []key{{"grad", 128}}},
		{"logits", 128, 2, []key{{"logits", 128}, {"grad", 128}}},
		{"grad", 64, 3, []key{{"grad", 64}, {"logits", 128}, {"grad", 128}}},
		{"grad", 128, 3, []key{{"grad", 128}, {"grad", 64}, {"logits", 128}}},
		{"grad", 32, 4, []key{{"grad", 32}, {"grad", 128}, {"grad", 64}, {"logits", 128}}},
		{"logits", 32, 5, []key{{"logits", 32}, {"grad", 32}, {"grad", 128}, {"grad", 64}, {"logits", 128}}}, // 464
		// 608 > 576: the least recent goes.
		{"vjp", 128, 6, []key{{"vjp", 128}, {"logits", 32}, {"grad", 32}, {"grad", 128}, {"grad", 64}}},       // 464
		{"logits", 128, 7, []key{{"logits", 128}, {"vjp", 128}, {"logits", 32}, {"grad", 32}, {"grad", 128}}}, // 528
		// A small one fits beside them.
		{"vjp", 4, 8, []key{{"vjp", 4}, {"logits", 128}, {"vjp", 128}, {"logits", 32}, {"grad", 32}, {"grad", 128}}}, // 548
		{"grad", 32, 8, []key{{"grad", 32}, {"vjp", 4}, {"logits", 128}, {"vjp", 128}, {"logits", 32}, {"grad", 128}}},
		// 684: the least recent goes, a large one.
		{"grad", 120, 9, []key{{"grad", 120}, {"grad", 32}, {"vjp", 4}, {"logits", 128}, {"vjp", 128}, {"logits", 32}}}, // 540
		// 680: the two least recent go, a small one and a large one.
		{"vjp", 124, 10, []key{{"vjp", 124}, {"grad", 120}, {"grad", 32}, {"vjp", 4}, {"logits", 128}}}, // 488
	} {
		p, err := o.program(step.kind, step.size, func(batch int) (*Program, error) {
			builds++
			return &Program{Batch: batch}, nil
		})
		if err != nil || p.Batch != step.size {
			t.Fatalf("program(%s, %d): %v", step.kind, step.size, err)
		}
		if builds != step.builds || !slices.Equal(kept(), step.kept) {
			t.Fatalf("after %s at %d: %d builds, kept %v; want %d, %v", step.kind, step.size, builds, kept(), step.builds, step.kept)
		}
	}
	o.Close()
	if len(o.progs) != 0 {
		t.Errorf("Close kept %d programs", len(o.progs))
	}
}
