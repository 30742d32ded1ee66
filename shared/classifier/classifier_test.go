package classifier_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sgn/format/checkpoint"
	"sgn/shared/classifier"
	"sgn/shared/model"
	"sgn/shared/sgn"
)

// small returns an MLP on 1x4x4 images, as an SGN when sg is set.
func small(t testing.TB, sg bool) *classifier.Classifier {
	t.Helper()
	cfg := model.Config{Arch: "mlp", InShape: []int{1, 4, 4}, Classes: 3, Mean: []float32{0.5}, Std: []float32{0.25}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	c := &classifier.Classifier{Net: net, Train: json.RawMessage(`{"progress":{"epoch":1}}`), Sections: map[string][]byte{"rng": {1, 2, 3}}}
	if sg {
		s := sgn.DefaultConfig()
		s.Taps = []string{"input", "fc1"}
		if err := sgn.Wrap(net, s); err != nil {
			t.Fatal(err)
		}
		for _, p := range net.Params {
			if strings.HasPrefix(p.Name, "sgn.") || strings.Contains(p.Name, "gate") {
				for i := range p.Data {
					p.Data[i] = 0.1 * float32(i+1)
				}
			}
		}
		c.SGN = &s
	}
	return c
}

// crafted returns c's checkpoint with its configuration edited and, if
// extra is set, a further section: sealed with valid checksums, as a
// hostile program would write it.
func crafted(t *testing.T, c *classifier.Classifier, edit func(m map[string]any), extra []byte) []byte {
	t.Helper()
	ck, err := c.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(ck.Config, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	if ck.Config, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		ck.Sections["extra"] = extra
	}
	var buf bytes.Buffer
	if err := checkpoint.Encode(&buf, ck); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, sg := range []bool{false, true} {
		c := small(t, sg)
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := classifier.Load(&buf)
		if err != nil {
			t.Fatalf("Load (sgn %v): %v", sg, err)
		}
		if len(got.Net.Params) != len(c.Net.Params) || (got.SGN != nil) != sg {
			t.Fatalf("loaded %d tensors (sgn %v), saved %d (sgn %v)", len(got.Net.Params), got.SGN != nil, len(c.Net.Params), sg)
		}
		for i, p := range c.Net.Params {
			q := got.Net.Params[i]
			if p.Name != q.Name || !slices.Equal(p.Data, q.Data) || p.Trainable != q.Trainable {
				t.Errorf("tensor %s does not survive a round trip", p.Name)
			}
		}
	}
}

// A checkpoint is checked against its own configuration before any network
// is built, and the configuration bounds how much the checkpoint may hold:
// a lying checkpoint costs what its file does, not what it claims.
func TestLoadRefusesLyingCheckpoints(t *testing.T) {
	c := small(t, false)
	inShape := func(s ...int) func(m map[string]any) {
		return func(m map[string]any) { m["model"].(map[string]any)["in_shape"] = s }
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
		is   error
	}{
		{"input too large to build", crafted(t, c, inShape(1, 8, 1000000), nil), "more than the 268435456 (1.07 GB) a model may have", nil},
		{"input larger than the tensors", crafted(t, c, inShape(1, 1000, 1000), nil), "checkpoint parameter fc1.w has shape [16 256], mlp needs [1000000 256]", nil},
		{"more data than the model can need", crafted(t, c, nil, make([]byte, 16<<20)), "is more than its configuration can need", checkpoint.ErrTooLarge},
		{"unknown architecture", crafted(t, c, func(m map[string]any) { m["model"].(map[string]any)["arch"] = "vgg" }, nil), `unknown architecture "vgg"`, nil},
		{"no configuration", crafted(t, c, func(m map[string]any) { delete(m, "format") }, nil), `configuration format ""`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.sgn")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, errFile := classifier.LoadFile(path)
			_, errStream := classifier.Load(bytes.NewReader(tc.data))
			runtime.ReadMemStats(&after)
			for _, err := range []error{errFile, errStream} {
				if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
					t.Errorf("error %v, want one saying %q", err, tc.want)
				}
			}
			if !strings.Contains(errFile.Error(), path) {
				t.Errorf("error %q does not name %s", errFile, path)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Errorf("refusing a %d-byte checkpoint allocated %d bytes", len(tc.data), n)
			}
		})
	}
}

// TestLoadSum checks that the checkpoint's digest is the file's, as
// sha256sum prints it, and that a damaged checkpoint gives no digest.
func TestLoadSum(t *testing.T) {
	var buf bytes.Buffer
	if err := small(t, true).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, tc := range []struct {
		name    string
		file    []byte
		wantErr bool
	}{
		{"checkpoint", good, false},
		{"trailing bytes", append(slices.Clip(good), "trailer"...), true},
		{"truncated", good[:len(good)/2], true},
	} {
		c, sum, err := classifier.LoadSum(bytes.NewReader(tc.file))
		if tc.wantErr {
			if err == nil || sum != nil {
				t.Errorf("%s: digest %x, %v; want an error", tc.name, sum, err)
			}
			continue
		}
		if want := sha256.Sum256(tc.file); err != nil || c.SGN == nil || !bytes.Equal(sum, want[:]) {
			t.Errorf("%s: digest %x, %v; want the SGN and %x", tc.name, sum, err, want)
		}
	}
}
