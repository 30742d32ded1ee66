package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sgn/format/stream"
	"sgn/shared/attack"
)

func TestCountShard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ten.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := stream.NewWriter(f, stream.Header{Shape: []int{1, 1, 2}, Elem: stream.Uint8}, stream.WithBatchRows(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&stream.Batch{Pixels: make([]uint8, 20), Labels: make([]int64, 10)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		shard Shard
		want  int
	}{{Shard{0, 1}, 10}, {Shard{0, 3}, 4}, {Shard{1, 3}, 3}, {Shard{2, 3}, 3}, {Shard{9, 12}, 1}, {Shard{11, 12}, 0}} {
		if got, err := CountShard(path, tc.shard); err != nil || got != tc.want {
			t.Errorf("CountShard(%v) = %d, %v; want %d", tc.shard, got, err, tc.want)
		}
	}
	if _, err := CountShard(filepath.Join(t.TempDir(), "none.arrow"), Shard{0, 1}); err == nil {
		t.Error("no error for a missing file")
	}
}

// holder is an oracle that counts its holds and releases.
type holder struct {
	attack.Oracle
	holds, releases int
}

func (h *holder) Hold() (release func()) {
	h.holds++
	return func() { h.releases++ }
}

// TestStoppableHolds checks that the wrapper attacks see passes their
// holds on to an oracle that keeps work while held, and accepts them for
// one that does not.
func TestStoppableHolds(t *testing.T) {
	h := &holder{}
	var o attack.Oracle = stoppable{h, context.Background()}
	hd, ok := o.(attack.Holder)
	if !ok {
		t.Fatal("stoppable is not an attack.Holder")
	}
	release := hd.Hold()
	if h.holds != 1 || h.releases != 0 {
		t.Errorf("after Hold: %d holds, %d releases; want 1, 0", h.holds, h.releases)
	}
	release()
	if h.releases != 1 {
		t.Errorf("after release: %d releases, want 1", h.releases)
	}
	stoppable{nil, context.Background()}.Hold()() // an oracle without Hold: nothing to pass on
}
