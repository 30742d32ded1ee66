package stream

// Columns a gradient stream (sgn-grad) carries besides image, which holds
// the gradient of the loss with respect to the input, and label, the label
// the loss was taken against.
const (
	ColPred     = "pred"      // the model's prediction
	ColLoss     = "loss"      // the loss of the example
	ColGradL2   = "grad_l2"   // L2 norm of the input gradient
	ColGradLinf = "grad_linf" // L-inf norm of the input gradient
)

// SelfGradColumn names the float32 tensor column (Float32TensorColumn, of
// the tapped activation's shape without the batch dimension) that holds an
// SGN's self-gradient at tap: d CE(z0, yhat) / d h_tap, per example.
func SelfGradColumn(tap string) string { return "selfgrad." + tap }

// SelfGradL2Column names the float32 column of the L2 norm of each
// example's self-gradient at tap.
func SelfGradL2Column(tap string) string { return SelfGradColumn(tap) + ".l2" }

// Schema metadata keys of gradient streams.
const (
	MetaGradLoss  = "sgn.grad.loss"  // the loss differentiated: "ce" or "cw"
	MetaGradLabel = "sgn.grad.label" // the label it was taken against: "true" or "pred"
	// MetaGates is, for an SGN, a JSON object of each tap's gate values
	// (one per channel), e.g. {"input":[-0.1]}.
	MetaGates = "sgn.gates"
)
