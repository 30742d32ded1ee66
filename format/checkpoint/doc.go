// Package checkpoint reads and writes sgn checkpoint files: the model's
// configuration, its parameter tensors and opaque state sections (optimizer,
// RNG) in one zstd-compressed, checksummed file, so that training can resume
// exactly where it stopped.
//
// # File layout (format version 1)
//
// All integers are little-endian.
//
//	offset size  field
//	0      8     magic "SGNCKPT\x00"
//	8      4     format version (uint32)
//	12     8     uncompressed payload length (uint64)
//	20     8     compressed frame length (uint64)
//	28     4     CRC-32C (Castagnoli) of the compressed frame
//	32     32    SHA-256 of the uncompressed payload
//	64     ...   one zstd frame holding the payload; nothing follows it
//
// The payload is a sequence of length-prefixed fields:
//
//	config:   u64 length, JSON bytes (may be empty)
//	tensors:  u32 count, then per tensor:
//	          u32 name length, name (UTF-8),
//	          u32 rank, rank × i64 dims,
//	          u64 data length in bytes, data (float32 little-endian)
//	sections: u32 count, then per section (sorted by name when written):
//	          u32 name length, name (UTF-8), u64 length, bytes
//
// Decoding interprets nothing but these lengths and numbers, so it is safe on
// untrusted files: every declared size is checked against the configured
// limit (see [WithMaxSize]) and against the bytes actually present before
// anything is allocated for it.
package checkpoint
