// Package stream reads and writes sgn example streams: Arrow IPC streams
// whose "image" column has the canonical extension type
// arrow.fixed_shape_tensor, followed by an int64 "label" column and optional
// numeric columns (predictions, perturbation norms, ...).
//
// The stream format (not the Arrow file format) is used so that tools can be
// composed with pipes. A Writer re-chunks examples into record batches of a
// few hundred rows; a Reader hands them back one batch at a time, in bounded
// memory, and refuses damaged or malformed input with a one-line error:
//
//	r, err := stream.NewReader(os.Stdin)
//	if err != nil {
//		return err
//	}
//	defer r.Close()
//	for r.Next() {
//		use(r.Batch())
//	}
//	return r.Err()
//
// A stream is complete only with its end-of-stream marker: a stream cut
// anywhere, even between two messages, makes Err return an error wrapping
// io.ErrUnexpectedEOF, so that a consumer never mistakes a crashed
// producer's output for a short dataset. Bytes after the marker are not
// read. The reader checks every declared length before allocating for it
// (see WithMaxBatchBytes, and WithMaxRows for a consumer that works on a few
// hundred examples at a time) and decompresses zstd and LZ4 bodies itself,
// so its memory use is bounded by about twice the largest record batch
// whatever the input.
//
// The package also implements the fixed_shape_tensor extension type itself
// (FixedShapeTensorType), which arrow-go does not ship, and registers it with
// arrow-go so that any ipc reader in the program returns typed tensor columns.
package stream
