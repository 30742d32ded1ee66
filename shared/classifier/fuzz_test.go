package classifier_test

import (
	"bytes"
	"encoding/json"
	"runtime/metrics"
	"testing"

	"sgn/format/checkpoint"
	"sgn/shared/classifier"
)

// maxFuzzAlloc is the memory cap of the fuzz targets: what one input may
// allocate. A checkpoint of a small model needs a few megabytes.
const maxFuzzAlloc = 64 << 20

// allocated returns the bytes the program has allocated so far; unlike
// the resident size, it counts an allocation whose pages are never
// touched, so a bomb fails the run even when the kernel would let it by.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzLoad gives Load checkpoints of a small MLP whose configuration is
// fuzzed, sealed with valid checksums, so that fuzzed configurations reach
// model construction. Load must refuse or accept without panicking and
// within the memory cap, and what it accepts must be a working network of
// the tensors it was given.
func FuzzLoad(f *testing.F) {
	c := small(f, false)
	ck, err := c.Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(ck.Config))
	sg, err := small(f, true).Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(sg.Config))
	var cfg map[string]any
	json.Unmarshal(ck.Config, &cfg)
	for _, shape := range [][]int{{1, 8, 1000000}, {1, 1000, 1000000}, {1, 1000, 1000}, {3, 4, 4}, {1, 4}, {1 << 62, 1 << 62, 4}, {0, 4, 4}} {
		cfg["model"].(map[string]any)["in_shape"] = shape
		b, _ := json.Marshal(cfg)
		f.Add(b)
	}
	for _, arch := range []string{"madry-mnist", "cifar-cnn", "preact-resnet18", "vgg", ""} {
		cfg["model"].(map[string]any)["in_shape"] = []int{1, 4, 4}
		cfg["model"].(map[string]any)["arch"] = arch
		b, _ := json.Marshal(cfg)
		f.Add(b)
	}
	f.Add([]byte(`{"format":"sgn-classifier/1","model":{"arch":"preact-resnet18","in_shape":[3,4096,4096],"classes":100000,"mean":[0,0,0],"std":[1,1,1]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, config []byte) {
		if !json.Valid(config) {
			return
		}
		bad := *ck
		bad.Config = config
		var buf bytes.Buffer
		if err := checkpoint.Encode(&buf, &bad); err != nil {
			return
		}
		before := allocated()
		got, err := classifier.Load(&buf)
		if n := allocated() - before; n > maxFuzzAlloc {
			t.Fatalf("loading a %d-byte checkpoint allocated %d bytes", buf.Len(), n)
		}
		if err != nil {
			return
		}
		for _, p := range got.Net.Params {
			if q, ok := bad.Tensor(p.Name); !ok || len(q.Data) != len(p.Data) {
				t.Fatalf("accepted network's %s is not the checkpoint's", p.Name)
			}
		}
	})
}
