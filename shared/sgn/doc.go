// Package sgn implements self-gradient networks (docs/design.md): any backbone
// of package model wrapped so that it taps its own gradient flow.
//
// A forward pass of an SGN is two passes of the backbone g:
//
//  1. probe: z0 = g(x), recording the activation h_p at each tap point p;
//     the self-label is yhat = argmax z0 (in training optionally the true
//     label), and the self-gradients are s_p = d CE(z0, yhat) / d h_p, each
//     example's from its own loss;
//  2. response: g again, with each tapped activation moved along its own
//     gradient, h_p + alpha_p * phi(s_p); its logits are the output.
//
// alpha_p is a per-channel gate, either learned (bound * tanh(a_p), with a_p
// initialised at 0, so an untrained SGN computes exactly its backbone) or
// fixed. phi is sign, per-example unit L2, or identity. In exact mode the
// self-gradients stay in the graph, so training and attacks differentiate
// through them (second derivatives of every op); in detached mode they are
// constants.
package sgn
