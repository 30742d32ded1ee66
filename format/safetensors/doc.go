// Package safetensors reads and writes the safetensors format of Hugging
// Face, which PyTorch users exchange weights in: an 8-byte little-endian
// header length N, N bytes of JSON, then the raw little-endian tensor data.
//
//	{"__metadata__": {"key": "value", ...},
//	 "conv1.weight": {"dtype": "F32", "shape": [32, 1, 5, 5], "data_offsets": [0, 3200]},
//	 ...}
//
// Offsets are relative to the end of the header and must tile the data
// exactly: sorted by start, every byte belongs to exactly one tensor and
// none follows the last. The JSON header is padded with spaces to a
// multiple of 8 bytes when written, as the reference implementation does.
//
// Decode is safe on untrusted input: the header length is bounded before it
// is read, duplicate names, unknown dtypes, negative or overflowing shapes
// and offsets that overlap, leave holes or disagree with shape and dtype
// are refused, and memory grows only with bytes actually received, so a
// short file that declares gigabytes allocates nothing of the sort.
//
// The package knows nothing of models: names, shapes and metadata values
// are the caller's. It owns the metadata keys sgn writes (Key*).
package safetensors
