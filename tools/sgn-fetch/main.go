// Command sgn-fetch writes a dataset's examples as an sgn example stream
// (Arrow IPC) to stdout or a file.
//
// It reads the official files as distributed, from -from DIR, the cache
// ($SGN_CACHE, else the user cache directory) or copies installed on the
// machine, and only when none is there from the official URLs and mirrors;
// it checks each file's published SHA-256 whatever its source.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"sgn/format/stream"
	"sgn/shared/cli"
	"sgn/shared/dataset"
)

const synopsis = `sgn-fetch [-split train|test] [-limit N] [-from DIR] [-o FILE] [-zstd] DATASET

Writes the examples of DATASET (mnist, fashion-mnist or cifar10) as an Arrow
IPC example stream to stdout, or to FILE. The official files are taken from
-from DIR, the cache ($SGN_CACHE, else the user cache directory) or copies
installed on the machine (GoMNIST in the Go module cache, Debian's
dataset-fashion-mnist), and only when none is there from the official URLs
and mirrors, downloaded into the cache; each file's published SHA-256 is
checked whatever its source.`

const examples = `  sgn-fetch mnist | sgn-train -sgn -adv fgsm -o model.sgn
  sgn-fetch -split test -o test.arrows mnist
  sgn-fetch -split test -limit 1000 fashion-mnist > fashion-test-1k.arrows
  sgn-fetch -from ~/Downloads -zstd cifar10 > cifar10-train.arrows`

// batchRows is the number of examples per record batch.
const batchRows = 256

func main() {
	cli.Main("sgn-fetch", run)
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-fetch", synopsis, examples, stderr)
	split := fs.String("split", "train", "which split to write: train or test")
	limit := fs.Int("limit", 0, "write only the first `N` examples (0: all)")
	from := fs.String("from", "", "look first in `DIR` for the official files, under their official names")
	out := fs.String("o", "", "write to `FILE` (atomically) instead of stdout")
	zstd := fs.Bool("zstd", false, "compress record batches with zstd")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want one DATASET (mnist, fashion-mnist or cifar10), got %d arguments", fs.NArg())
	}
	name := fs.Arg(0)
	if *limit < 0 {
		return cli.Usagef("-limit %d is negative", *limit)
	}
	fetcher := dataset.NewFetcher(
		dataset.WithFromDir(*from),
		dataset.WithProgress(stderr, cli.IsTerminal(stderr)),
	)
	spec, err := fetcher.Spec(name)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if _, ok := spec.Splits[*split]; !ok {
		return cli.Usagef("-split %q: want train or test", *split)
	}
	// The output is made first, so that a bad path fails before any
	// download, and under a temporary name, so that a failure never leaves
	// a half-written file.
	w, commit, err := cli.CreateOutput(*out, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	dest := "stdout"
	if *out != "" {
		dest = *out
	}

	ds, err := fetcher.Load(ctx, name, *split)
	if err != nil {
		return err
	}
	n := ds.Len()
	if *limit > 0 && *limit < n {
		n = *limit
	}
	if err := writeExamples(ctx, w, ds, n, *zstd); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := commit(true); err != nil {
		return err
	}
	if cli.IsTerminal(stderr) {
		fmt.Fprintf(stderr, "sgn-fetch: wrote %d examples of %s %s to %s\n", n, name, *split, dest)
	}
	return nil
}

// writeExamples writes the first n examples of ds to w in batches of
// batchRows rows, slicing ds rather than copying it.
func writeExamples(ctx context.Context, w io.Writer, ds *dataset.Dataset, n int, zstd bool) error {
	classes, err := json.Marshal(ds.Classes)
	if err != nil {
		return err
	}
	h := stream.Header{
		Shape: ds.Shape,
		Elem:  stream.Uint8,
		Metadata: map[string]string{
			stream.MetaDataset:    ds.Name,
			stream.MetaSplit:      ds.Split,
			stream.MetaClasses:    string(classes),
			stream.MetaPixelScale: strconv.FormatFloat(dataset.PixelScale, 'g', -1, 64),
			stream.MetaSource:     ds.Source,
		},
	}
	opts := []stream.WriterOption{stream.WithBatchRows(batchRows)}
	if zstd {
		opts = append(opts, stream.WithZstd())
	}
	sw, err := stream.NewWriter(w, h, opts...)
	if err != nil {
		return err
	}
	size := ds.ExampleSize()
	for i := 0; i < n; i += batchRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		j := min(i+batchRows, n)
		b := &stream.Batch{Pixels: ds.Images[i*size : j*size], Labels: ds.Labels[i:j]}
		if err := sw.Write(b); err != nil {
			return err
		}
	}
	return sw.Close()
}
