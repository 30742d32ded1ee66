// Package attack implements adversarial attacks on image classifiers: FGSM
// (with the random start of "Fast is better than free"), PGD (Madry et al.),
// Carlini-Wagner L2, APGD (Croce and Hein, the gradient attack of
// AutoAttack; APGD-L1 of "Mind the box"), FAB-T (targeted minimal
// perturbations), and the gradient-free Square attack (Andriushchenko et
// al.); and Suite, which runs attacks one after the other on the examples
// still unbroken, as AutoAttack does (Standard gives its standard suite).
//
// The attacks see the classifier only through an Oracle, which returns
// logits, loss gradients and vector-Jacobian products; they know nothing of
// the autodiff library behind it. Inputs are flat float32 slices of n
// examples of d values each (channel-major C×H×W for Square), every value in
// [0, 1]; logits are n×K, row-major.
//
// The attacks are written to be strong rather than fast, because a defence
// that uses gradients in its forward pass can mask them: PGD and APGD keep
// the per-example worst case over every iterate and restart, APGD and PGD
// accept the scale-invariant DLR loss (through VJP) besides cross-entropy
// and the margin loss, targeted versions try the most likely wrong classes
// in turn, and Square queries only logits. Every result stays inside its
// ε-ball (L∞, L2 or L1) and [0, 1]; the L2 and L1 projections used are the
// exact Euclidean projections onto the intersection of the ball and the
// box.
package attack
