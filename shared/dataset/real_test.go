package dataset_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sgn/shared/dataset"
	"sgn/shared/testenv"
)

// offlineFetcher loads the built-in datasets from their offline copies
// only (no network, empty cache), skipping the test when a copy is absent.
func offlineFetcher(t *testing.T, name string, files ...string) *dataset.Fetcher {
	t.Helper()
	specs := dataset.Specs()
	for i := range specs {
		specs[i].URLs = nil
	}
	dirs := dataset.DefaultOfflineDirs()[name]
	if len(dirs) == 0 {
		testenv.Skipf(t, name, "no offline directory known for %s", name)
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dirs[0], f)); err != nil {
			testenv.Skipf(t, name, "offline copy of %s not installed (make setup): %v", name, err)
		}
	}
	return dataset.NewFetcher(dataset.WithSpecs(specs...), dataset.WithCacheDir(t.TempDir()))
}

func counts(labels []int64) map[int64]int {
	c := map[int64]int{}
	for _, l := range labels {
		c[l]++
	}
	return c
}

func TestRealMNIST(t *testing.T) {
	f := offlineFetcher(t, "mnist", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
	test, err := f.Load(context.Background(), "mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	if test.Len() != 10000 || len(test.Images) != 10000*28*28 {
		t.Fatalf("test split: %d examples, %d pixel bytes; want 10000, %d", test.Len(), len(test.Images), 10000*28*28)
	}
	// The test set's published class sizes: 980 zeros, 1135 ones, ...
	want := map[int64]int{0: 980, 1: 1135, 2: 1032, 3: 1010, 4: 982, 5: 892, 6: 958, 7: 1028, 8: 974, 9: 1009}
	got := counts(test.Labels)
	for class, n := range want {
		if got[class] != n {
			t.Errorf("test label counts %v, want %v", got, want)
			break
		}
	}
	train, err := f.Load(context.Background(), "mnist", "train")
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || len(train.Images) != 60000*28*28 {
		t.Errorf("train split: %d examples, want 60000", train.Len())
	}
}

func TestRealFashionMNIST(t *testing.T) {
	f := offlineFetcher(t, "fashion-mnist", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
	ds, err := f.Load(context.Background(), "fashion-mnist", "test")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 10000 || len(ds.Images) != 10000*28*28 {
		t.Fatalf("test split: %d examples, want 10000", ds.Len())
	}
	for class, n := range counts(ds.Labels) {
		if n != 1000 {
			t.Errorf("class %d (%s): %d examples, want 1000", class, ds.Classes[class], n)
		}
	}
	if len(counts(ds.Labels)) != 10 {
		t.Errorf("%d classes present, want 10", len(counts(ds.Labels)))
	}
}
