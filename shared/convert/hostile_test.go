package convert

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"sgn/format/safetensors"
)

// A file whose metadata claims a large model is checked against its
// tensors before any network is allocated (model.New used to build the
// declared one first: 1 GB for an mlp on 1x1000x1000 images).
func TestLyingMetadataAllocatesLittle(t *testing.T) {
	f, err := ToSafetensors(randomClassifier(t, mnist("mlp"), nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := mnist("mlp")
	cfg.InShape = []int{1, 1000, 1000}
	b, _ := json.Marshal(cfg)
	f.Metadata[safetensors.KeyModel] = string(b)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = FromSafetensors(f, "")
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "fc1.weight has shape [256 784], want [256 1000000]") {
		t.Errorf("error %v, want the misshapen fc1.weight", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("refusing the file allocated %d bytes", n)
	}
}
