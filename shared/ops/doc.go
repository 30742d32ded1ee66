// Package ops holds sgn's numerical operations as Gorgonia ops that can be
// differentiated any number of times, for double backprop, Hessian-vector
// products and attacks through a network's own gradient.
//
// # Design
//
// Every op implements G.Op and G.SDOp and its SymDiff returns nodes of ops
// that again have a SymDiff, so each set of ops below is closed under
// differentiation:
//
//   - Convolution is three bilinear ops, Conv, ConvBackData and
//     ConvBackFilter, each the adjoint of the others in one argument
//     (im2col + GEMM, float32 and float64, parallel over the batch).
//     MatMul(a, b, ta, tb) is closed the same way through its transpose
//     flags, so no transposed copy is ever made.
//   - Piecewise-linear ops are "gated linear": Mask(key, h) and
//     PoolSelect(key, h) are linear in h with routing decided by key, which
//     gets no gradient (DiffWRT false, nil in SymDiff's result). ReLU(x) is
//     Mask(x, x) and MaxPool is PoolSelect(x, x); PoolSelect and PoolScatter
//     are each other's adjoints, as are RowSelect and RowScatter (the margin
//     loss's largest other logit).
//   - Linear maps come in adjoint pairs: AvgPool and its adjoint, Sum and
//     Broadcast over all axes but one (channel, example) or over all,
//     Reshape both ways, Affine.
//   - Smooth ops differentiate into themselves and the pairs above: Pow,
//     Softmax, LogSoftmax, RowNorm (via UnitL2). Batch norm, the losses and
//     UnitL2 are compositions of these with Gorgonia's Add, Sub,
//     HadamardProd and Mul, whose gradients the tests check to second order.
//
// # Gorgonia v0.9.18 pitfalls this package works around
//
//   - G.Grad caches each node's gradient on the node and reuses it in later
//     calls, so a second G.Grad on a graph (double backprop, a second loss)
//     returns wrong values without an error. Use Grad for every gradient.
//   - The tape machine reuses a dead node's buffer for later results, so after
//     a run an intermediate node's Value may hold another node's data. Read
//     intermediate results (batch-norm statistics, logits) with G.Read nodes
//     added before compiling; outputs nothing consumes are safe.
//   - G.Reshape returns a view of its input which a following in-place op
//     overwrites; Flatten copies instead.
//   - G.InverseSqrt's gradient is wrong; batch norm uses Pow.
//
// float32 products run on sgn/shared/kernels: a packed GEMM with AVX2/FMA
// (or AVX-512) assembly kernels when the CPU has them (about 8x gonum's
// Sgemm here), else gonum; float64, used by the finite-difference tests,
// uses gonum. Stride-1 float32 convolutions and their gradients run as
// direct convolutions (convdirect.go tiles the output and calls that
// package's micro-kernels); others unroll with im2col. The ReLU mask and
// the 2×2 max-pool argmax come from there too.
//
// Ops do not implement G.UsePreallocDoer: the machine offers a register's
// previous value, which may still be bound to another node. Instead each
// node has buffers of its own (buffers.go): by default an op allocates its
// output afresh on each run; on a graph passed to ReuseOutputs, as every
// compiled program of shared/engine is, it writes each run into the same
// memory, with its scratch and GEMM packing space kept alongside, so that
// a steady state allocates almost nothing.
package ops
