package harness

import (
	"fmt"
	"strconv"

	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/engine"
	"sgn/shared/sgn"
)

// Suite kinds sgn-attack runs with -suite.
const (
	// SuiteStandard is AutoAttack's standard suite (attack.Standard).
	SuiteStandard = "standard"
	// SuiteSGN adds, for an SGN, attacks that see through its
	// self-gradient path, and a transfer attack when a source model is
	// given.
	SuiteSGN = "sgn"
)

// DefaultSurrogate is the temperature of the smooth surrogate tanh(s/TAU)
// for phi = sign that the sgn suite attacks through unless told otherwise:
// the quick study's.
const DefaultSurrogate = 0.05

// SuiteOptions choose a suite and its budget.
type SuiteOptions struct {
	Kind string // SuiteStandard or SuiteSGN
	Norm attack.Norm
	Eps  float64
	// Steps, Queries and Targets, when not 0, replace the suite's
	// iterations of its gradient attacks, Square's queries and the target
	// classes of its targeted attacks (for quick runs; the stream records
	// them).
	Steps, Queries, Targets int
	// Surrogate is the sgn suite's tau (0: DefaultSurrogate).
	Surrogate float64
	// Transfer, for the sgn suite, is the source model of a transfer
	// attack (nil: none).
	Transfer *classifier.Classifier
	Batch    int
	// AllSteps: as Options.AllSteps.
	AllSteps bool
}

// BuiltSuite is a suite ready to run: its members, the parameters that
// tell it apart from the standard configuration, notes for the user (the
// attacks left out and why), and the oracles to close.
type BuiltSuite struct {
	Members []attack.Member
	Params  map[string]string
	Notes   []string
	oracles []*engine.Oracle
}

// Close releases the members' own oracles.
func (b *BuiltSuite) Close() error {
	for _, o := range b.oracles {
		o.Close()
	}
	return nil
}

// BuildSuite returns the members of a suite against target, whose own
// forward pass (the whole SGN, exact) members without a craft oracle
// attack through.
func BuildSuite(target *classifier.Classifier, o SuiteOptions) (*BuiltSuite, error) {
	if o.Kind != SuiteStandard && o.Kind != SuiteSGN {
		return nil, fmt.Errorf("suite %q: want %s or %s", o.Kind, SuiteStandard, SuiteSGN)
	}
	s := target.Net.Config.InShape
	b := &BuiltSuite{Members: attack.Standard(o.Norm, o.Eps, s[0], s[1], s[2]), Params: map[string]string{}}
	// White-box members differentiate an SGN through its exact
	// self-gradient path, whatever path it was trained with.
	var exact *engine.Oracle
	if target.SGN != nil && target.SGN.Grad != "exact" {
		exact = engine.NewOracle(target.Net, o.Batch, engine.WithForward(target.Forward(sgn.WithGradMode("exact"))))
		b.oracles = append(b.oracles, exact)
	}
	for i, m := range b.Members {
		// The standard members attack the target or its exact path, whose
		// logits are the target's.
		b.Members[i].Attack = withEarlyStop(adjust(m.Attack, o), !o.AllSteps)
		if exact != nil {
			b.Members[i].Craft = exact
		}
	}
	if o.Steps > 0 {
		b.Params["steps"] = strconv.Itoa(o.Steps)
	}
	if o.Queries > 0 {
		b.Params["queries"] = strconv.Itoa(o.Queries)
	}
	if o.Targets > 0 {
		b.Params["targets"] = strconv.Itoa(o.Targets)
	}
	if o.Norm == attack.L1 {
		b.Notes = append(b.Notes, "l1: the suite is APGD-CE and APGD-T (sgn has no L1 FAB or Square)")
	}
	if o.Kind == SuiteStandard {
		if o.Transfer != nil {
			return nil, fmt.Errorf("a transfer source belongs to the sgn suite, not the standard one")
		}
		return b, nil
	}
	// The extra members: APGD-CE, with the suite's iterations, through
	// other gradients than the exact path.
	apgd := adjust(attack.APGD{Norm: o.Norm, Eps: o.Eps, Steps: 100, Loss: attack.LossCE}, o)
	if target.SGN != nil {
		detached := engine.NewOracle(target.Net, o.Batch, engine.WithForward(target.Forward(sgn.WithGradMode("detached"))))
		b.oracles = append(b.oracles, detached)
		// The detached path's logits are the target's; a surrogate's and a
		// transfer source's are not, so those members run every step.
		b.Members = append(b.Members, attack.Member{Name: "apgd-ce-detached", Attack: withEarlyStop(apgd, !o.AllSteps), Craft: detached, Via: "detached"})
		if target.SGN.Phi == "sign" {
			tau := o.Surrogate
			if tau == 0 {
				tau = DefaultSurrogate
			}
			smooth := engine.NewOracle(target.Net, o.Batch, engine.WithForward(target.Forward(sgn.WithSmoothSign(tau))))
			b.oracles = append(b.oracles, smooth)
			name := "apgd-ce-smooth" + strconv.FormatFloat(tau, 'g', -1, 64)
			b.Members = append(b.Members, attack.Member{Name: name, Attack: apgd, Craft: smooth, Via: "surrogate"})
			b.Params["surrogate"] = "tanh(s/" + strconv.FormatFloat(tau, 'g', -1, 64) + ")"
		} else {
			b.Notes = append(b.Notes, fmt.Sprintf("no smooth surrogate: the SGN's phi is %s, not sign", target.SGN.Phi))
		}
	} else {
		b.Notes = append(b.Notes, "not an SGN: no detached-path or surrogate attacks")
	}
	if o.Transfer != nil {
		src := o.Transfer
		if fmt.Sprint(src.Net.Config.InShape) != fmt.Sprint(target.Net.Config.InShape) || src.Net.Config.Classes != target.Net.Config.Classes {
			return nil, fmt.Errorf("transfer: the source model does not take the target's inputs")
		}
		craft := engine.NewOracle(src.Net, o.Batch, engine.WithForward(src.Forward()))
		b.oracles = append(b.oracles, craft)
		b.Members = append(b.Members, attack.Member{Name: "transfer-apgd-ce", Attack: apgd, Craft: craft, Via: "transfer"})
		b.Params["transfer_from"] = src.Describe()
	} else {
		b.Notes = append(b.Notes, "no transfer attack: give its source model with -transfer")
	}
	return b, nil
}

// withEarlyStop sets the EarlyStop of PGD and APGD members.
func withEarlyStop(a attack.Attack, on bool) attack.Attack {
	switch a := a.(type) {
	case attack.APGD:
		a.EarlyStop = on
		return a
	case attack.PGD:
		a.EarlyStop = on
		return a
	}
	return a
}

// adjust applies the options' iterations, queries and targets to a member.
func adjust(a attack.Attack, o SuiteOptions) attack.Attack {
	switch a := a.(type) {
	case attack.APGD:
		if o.Steps > 0 {
			a.Steps = o.Steps
		}
		if o.Targets > 0 && a.Targeted {
			a.Targets = o.Targets
		}
		return a
	case attack.FAB:
		if o.Steps > 0 {
			a.Steps = o.Steps
		}
		if o.Targets > 0 {
			a.Targets = o.Targets
		}
		return a
	case attack.Square:
		if o.Queries > 0 {
			a.Queries = o.Queries
		}
		return a
	}
	return a
}
