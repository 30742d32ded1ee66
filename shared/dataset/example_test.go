package dataset_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"sgn/shared/dataset"
)

// A Fetcher finds the official files on the machine (the cache, the
// GoMNIST module), else downloads them into the cache, and checks their
// SHA-256 before reading them. WithFromDir would name a directory to look
// in first. The example is compiled but not run: its output depends on
// what the machine holds.
func ExampleFetcher_Load() {
	f := dataset.NewFetcher(dataset.WithProgress(os.Stderr, true))
	ds, err := f.Load(context.Background(), "mnist", "test")
	if err != nil {
		log.Fatal(err)
	}
	// Images are bytes, CHW; PixelScale maps them to [0, 1].
	first := ds.Images[:ds.ExampleSize()]
	fmt.Printf("%d examples of %v from %s; the first is a %s, its first pixel %.2f\n",
		ds.Len(), ds.Shape, ds.Source, ds.Classes[ds.Labels[0]], float64(first[0])*dataset.PixelScale)
}
