package train

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/classifier"
)

// Training refuses the pixels every other tool refuses: one check of
// examples (package examples) for all.
func TestTrainingRefusesPixelsOutsideUnitRange(t *testing.T) {
	floats := func(v float32, scale string) Data {
		d := toyData(64, 4)
		d.Header.Elem = stream.Float32
		d.Header.Metadata = map[string]string{stream.MetaPixelScale: scale}
		d.Examples.Floats = make([]float32, 64*16)
		d.Examples.Pixels = nil
		d.Examples.Floats[5*16+3] = v
		return d
	}
	unscaled := toyData(64, 4)
	unscaled.Header.Metadata[stream.MetaPixelScale] = "1"
	manyClasses := toyData(64, 4)
	names, _ := json.Marshal(make([]string, 200000))
	manyClasses.Header.Metadata[stream.MetaClasses] = string(names)
	manyClasses.Name = "train.arrow"
	for _, tc := range []struct {
		name string
		data Data
		want string
	}{
		{"1e30", floats(1e30, "1"), "example 5 has pixel 1e+30 outside [0,1]"},
		{"negative", floats(-1, "1"), "example 5 has pixel -1 outside [0,1]"},
		{"scaled to infinity", floats(1e10, "1e30"), "example 5 has pixel +Inf outside [0,1]"},
		{"bytes without their scale", unscaled, "outside [0,1]"},
		{"200000 classes", manyClasses, "train.arrow: metadata sgn.classes names 200000 classes, more than the 100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := New(toyConfig("none"), tc.data)
			if err == nil {
				tr.Close()
				t.Fatalf("accepted; want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one saying %q", err, tc.want)
			}
		})
	}
}

// A checkpoint's training progress is checked before the run continues
// from it: a negative batch used to panic with a slice out of range.
func TestResumeRefusesImpossibleProgress(t *testing.T) {
	data := toyData(160, 2)
	cfg := toyConfig("none")
	tr, err := New(cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	var saved *classifier.Classifier
	ctx, cancel := context.WithCancel(context.Background())
	tr.Run(ctx, Hooks{
		Batch: func(epoch, b, n int, _ float64) {
			if b == 4 {
				cancel()
			}
		},
		Save: func(c *classifier.Classifier) error { saved = c; return nil },
	})
	batches := tr.Batches()
	tr.Close()
	if saved == nil {
		t.Fatal("no checkpoint saved on interrupt")
	}
	with := func(edit func(p map[string]any)) *classifier.Classifier {
		var rec map[string]any
		if err := json.Unmarshal(saved.Train, &rec); err != nil {
			t.Fatal(err)
		}
		edit(rec["progress"].(map[string]any))
		c := *saved
		c.Train, _ = json.Marshal(rec)
		return roundTrip(t, &c)
	}
	set := func(k string, v any) func(p map[string]any) { return func(p map[string]any) { p[k] = v } }
	for _, tc := range []struct {
		name string
		edit func(p map[string]any)
		want string
	}{
		{"negative batch", set("batch", -1), "negative or non-finite count"},
		{"negative epoch", set("epoch", -1), "negative or non-finite count"},
		{"negative step", set("step", -5), "negative or non-finite count"},
		{"batch beyond the epoch", set("batch", 99999999), fmt.Sprintf("batch 99999999 of an epoch of %d batches", batches)},
		{"epoch beyond the run", set("epoch", 3), "epoch 3, batch 4 of a 2-epoch run"},
		{"steps not the batches", set("step", 40), fmt.Sprintf("counts 40 steps, but 0 epochs of %d batches and 4 batches make 4", batches)},
		{"more examples than batches", set("epoch_examples", 1000), "counts 1000 examples in 4 batches of 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Resume(with(tc.edit), data)
			if err == nil {
				tr.Close()
				t.Fatalf("resumed; want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one saying %q", err, tc.want)
			}
		})
	}
	// The run itself resumes, and its first epoch reports on all its
	// batches, those before the interruption included.
	tr, err = Resume(roundTrip(t, saved), data)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var recs []Record
	if err := tr.Run(context.Background(), Hooks{Epoch: func(r Record) error { recs = append(recs, r); return nil }}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].TrainExamples != batches*cfg.Batch || recs[1].TrainExamples != batches*cfg.Batch || recs[0].TrainLoss <= 0 {
		t.Errorf("records %+v, want two epochs of %d examples each", recs, batches*cfg.Batch)
	}
}
