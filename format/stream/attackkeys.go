package stream

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

// Schema metadata keys of attack streams.
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
	MetaModel        = "sgn.model"                // one-line description of the attacked model
	MetaModelSHA256  = "sgn.model.sha256"         // hex SHA-256 of the attacked checkpoint file
	MetaModelRecipe  = "sgn.model.recipe"         // JSON training configuration saved in that checkpoint
)
