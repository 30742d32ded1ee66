// Package train runs training: plain, adversarial (FGSM with random start,
// Madry PGD, TRADES) and self-gradient networks on top of any of them.
//
// Training is deterministic given the seed and the data: each epoch's order
// comes from a stream split off the seed by epoch number, and the stream that
// draws attack starts and augmentation is saved in every checkpoint with the
// optimiser state and the position in the epoch, so a run resumed from a
// checkpoint continues exactly as the uninterrupted run would have.
//
// Flags, Output and Report are sgn-train's command line: the settings and
// their defaults, what a resumed run may change, where checkpoints go, and
// the lines that report a run.
package train
