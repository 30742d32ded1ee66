package harness_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"runtime/metrics"
	"testing"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/engine"
	"sgn/shared/harness"
	"sgn/shared/model"
	"sgn/shared/score"
	"sgn/shared/train"
)

// maxFuzzAlloc is the memory cap of FuzzToolInputs: what one input may
// make the tools allocate, models and programs included. A stream of a few
// examples of 1x4x4 needs a few megabytes.
const maxFuzzAlloc = 64 << 20

// allocated returns the bytes the program has allocated so far; unlike
// the resident size, it counts an allocation whose pages are never
// touched, so a bomb fails the run even when the kernel would let it by.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func fuzzStream(t testing.TB, h stream.Header, b *stream.Batch, opts ...stream.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzToolInputs feeds arbitrary bytes, as an example stream, to what each
// tool does with one: sgn-attack's harness.Run, sgn-grad's Gradients,
// sgn-score's Read with and without a model, and sgn-train's checks of
// its data. None may panic, and none may allocate more than the cap.
func FuzzToolInputs(f *testing.F) {
	cfg := model.Config{Arch: "mlp", InShape: []int{1, 4, 4}, Classes: 3, Mean: []float32{0.5}, Std: []float32{0.25}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		f.Fatal(err)
	}
	cls := &classifier.Classifier{Net: net}
	h := stream.Header{Shape: []int{1, 4, 4}, Elem: stream.Uint8, Metadata: map[string]string{stream.MetaClasses: `["a","b","c"]`}}
	b := &stream.Batch{Pixels: make([]uint8, 6*16), Labels: []int64{0, 1, 2, 0, 1, 2}}
	for i := range b.Pixels {
		b.Pixels[i] = uint8(i * 7)
	}
	good := fuzzStream(f, h, b)
	f.Add(good)
	f.Add(fuzzStream(f, h, b, stream.WithZstd(), stream.WithBatchRows(2)))
	f.Add(good[:len(good)/2])
	floats := stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1e30"}}
	f.Add(fuzzStream(f, floats, &stream.Batch{Floats: h.Float32Images(b, nil), Labels: b.Labels}))
	adv := stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaAttack: "fgsm", stream.MetaAttackEps: "0.1"},
		Extra: []stream.ColumnSpec{{Name: stream.ColIndex, Type: stream.Int64Column}, {Name: stream.ColCleanPred, Type: stream.Int64Column}, {Name: stream.ColAdvPred, Type: stream.Int64Column}}}
	f.Add(fuzzStream(f, adv, &stream.Batch{Floats: h.Float32Images(b, nil), Labels: b.Labels, Extra: []stream.Column{
		{Name: stream.ColIndex, Int64: []int64{0, 1, 2, 3, 4, 5}}, {Name: stream.ColCleanPred, Int64: b.Labels}, {Name: stream.ColAdvPred, Int64: b.Labels}}}))
	flat := h
	flat.Shape = []int{16}
	f.Add(fuzzStream(f, flat, b))
	// One zstd record batch of 5,000 rows: 80 KB of images in a few.
	f.Add(fuzzStream(f, h, &stream.Batch{Pixels: make([]uint8, 5000*16), Labels: make([]int64, 5000)}, stream.WithZstd(), stream.WithBatchRows(5000)))

	const batch = 4
	oracle := engine.NewOracle(net, batch)
	defer oracle.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		before := allocated()
		defer func() {
			if n := allocated() - before; n > maxFuzzAlloc {
				t.Fatalf("a %d-byte stream made the tools allocate %d bytes", len(data), n)
			}
		}()
		harness.Run(ctx, harness.Config{Attack: attack.FGSM{Norm: attack.Linf, Eps: 0.1}, Craft: oracle, Target: oracle, Eps: 0.1, Norm: attack.Linf, Batch: batch},
			bytes.NewReader(data), io.Discard)
		harness.Gradients(ctx, harness.GradConfig{Model: cls, Loss: engine.CrossEntropy, Batch: batch}, bytes.NewReader(data), io.Discard)
		for _, c := range []*classifier.Classifier{cls, nil} {
			s := score.NewScorer(c, batch)
			s.Read(ctx, "fuzz", bytes.NewReader(data))
			s.Close()
		}
		// sgn-train holds its data whole, as much as the stream holds (so
		// the fuzzed stream's batches are bounded here), and checks it as
		// every tool does before anything else: a run of no epochs is
		// refused right after that check, before a network is built.
		hd, all, err := readAll(data, 5000)
		if err != nil {
			return
		}
		if tr, err := train.New(train.Config{Arch: "mlp"}, train.Data{Header: hd, Examples: all, Name: "fuzz"}); err == nil {
			tr.Close()
			t.Fatal("a run of no epochs was accepted")
		}
	})
}

// readAll is stream.ReadAll of image data and labels, with record batches
// of at most rows rows.
func readAll(data []byte, rows int) (stream.Header, *stream.Batch, error) {
	r, err := stream.NewReader(bytes.NewReader(data), stream.WithMaxRows(rows))
	if err != nil {
		return stream.Header{}, nil, err
	}
	defer r.Close()
	all := &stream.Batch{}
	for r.Next() {
		b := r.Batch()
		all.Pixels = append(all.Pixels, b.Pixels...)
		all.Floats = append(all.Floats, b.Floats...)
		all.Labels = append(all.Labels, b.Labels...)
	}
	return r.Header(), all, r.Err()
}
