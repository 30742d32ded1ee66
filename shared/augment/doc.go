// Package augment implements the data augmentation used to train image
// classifiers on CIFAR-10 style data: random crops of a zero-padded image and
// random horizontal flips. Every random choice is drawn from a caller's
// generator, so augmentation is reproducible and resumes exactly with it.
package augment
