// Package engine compiles a network into the few Gorgonia programs every
// tool runs, and runs them batch after batch without rebuilding the graph:
//
//   - Logits: inputs to logits (evaluation, scoring);
//   - InputGrad: inputs and targets to the loss and its gradient with
//     respect to the inputs (attacks, sgn-grad);
//   - TrainStep: inputs and targets to the loss and its gradient with
//     respect to every trainable parameter (training), for plain
//     cross-entropy and for TRADES.
//
// A program's inputs are fixed-size tensors owned by the program; Set copies
// a batch into them, Run executes the graph, and outputs are read back as
// float32 slices. A short final batch is padded by the caller (see Pad).
// Programs bind the Net's parameters by reference, so after an optimiser
// step every program sees the new weights.
package engine
