// Package rng provides a seeded random number generator whose state can be
// saved and restored exactly, so that an interrupted training run resumes
// with the same shuffles and augmentations it would have drawn without the
// interruption.
//
// An RNG wraps a math/rand/v2 PCG source. Split derives independent,
// reproducible streams (for example one for shuffling and one for
// augmentation) from the seed and a label, not from the current position, so
// adding draws to one stream never changes another.
package rng
