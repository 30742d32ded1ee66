// Package optim implements the optimizers and learning-rate schedules used
// to train models: SGD with momentum, Nesterov momentum and weight decay, and
// Adam, both following torch.optim, and constant, step, cosine and one-cycle
// schedules.
//
// Optimizers work on plain float32 slices, one per parameter tensor, and
// update them in place. Their state (moment buffers and step count) can be
// marshalled into a checkpoint, so that training resumes exactly.
package optim
