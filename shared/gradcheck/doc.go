// Package gradcheck checks gradients against central finite differences in
// float64, for the tests of the packages that compute them.
//
// Check compares chosen entries of an analytic gradient with central
// differences of a cost as the entries' values move in place; a Checker
// sets its step, tolerance and relative-error floor, and whether a mismatch
// is re-measured by Richardson extrapolation, with entries that sit at a
// kink of the cost (a ReLU or max-pool switch) counted rather than failed.
// Sample chooses the entries to check.
//
// Graph is a float64 graph of a scalar cost of a model.Net on a fixed batch,
// with its gradients with respect to the input and parameters: the usual
// subject of a check. The package imports sgn/shared/model and
// sgn/shared/ops, so those packages' own internal tests cannot use it.
package gradcheck
