// Package model defines the classifier architectures sgn trains and attacks
// (mlp, madry-mnist, cifar-cnn, preact-resnet18), their parameters, and how
// they are built into a Gorgonia graph from the kernels of package ops.
//
// A Net owns its parameters as plain float32 tensors, which is what the
// optimiser updates and the checkpoint stores. Building a graph binds those
// tensors to graph nodes (Bind), so one Net can serve several graphs at
// once: a training graph, an attack graph, an evaluation graph.
//
// Input normalisation is part of the model: every architecture starts with a
// fixed per-channel (x-mean)/std, so attacks work in pixel space [0,1].
//
// Forward takes a Tap: a hook called with each tap point's activation
// ("input" and the named block outputs) that may replace it. Plain inference
// passes nil; self-gradient networks use it for the probe and response passes.
package model
