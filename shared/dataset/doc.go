// Package dataset reads the official MNIST, Fashion-MNIST and CIFAR-10 files
// and fetches them for the sgn tools.
//
// A Fetcher looks for each official file in turn on the machine — in a
// directory the user names, in the cache, among copies already installed
// (the GoMNIST module in the Go module cache, Debian's dataset-fashion-mnist
// package) — and only then at the official URLs and mirrors, downloading
// with retries and resumption into the cache. Whatever the source, the
// file's SHA-256 is checked against the published one before its content
// is used:
//
//	f := dataset.NewFetcher(dataset.WithProgress(os.Stderr, true))
//	ds, err := f.Load(ctx, "mnist", "test")
//	// ds.Images holds ds.Len() images of ds.Shape (CHW) as bytes; multiply
//	// by PixelScale for [0, 1].
//
// The readers (ReadIDX, ReadCIFAR10) treat their input as untrusted: sizes
// are checked before anything is allocated and malformed input gets a one
// line error.
package dataset
