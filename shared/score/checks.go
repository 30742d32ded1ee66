package score

import (
	"fmt"
	"strconv"
	"strings"
)

// Check is one gradient-masking diagnostic (Athalye, Carlini and Wagner
// 2018; Carlini et al. 2019): a sign that white-box gradients are not
// finding the model's weaknesses, so robust accuracy is overstated.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// MaskingChecks compares the attacks of one evaluation.
func MaskingChecks(attacks []AttackResult) []Check {
	var checks []Check
	best := func(pred func(AttackResult) bool) (AttackResult, bool) {
		var b AttackResult
		found := false
		for _, a := range attacks {
			if pred(a) && (!found || a.Accuracy < b.Accuracy) {
				b, found = a, true
			}
		}
		return b, found
	}
	whitebox := func(a AttackResult) bool { return whiteBox(a.Attack) }
	// Attacks compare only at one threat model and eps.
	sameEps := func(a AttackResult) func(AttackResult) bool {
		t := threatOfResult(a)
		return func(b AttackResult) bool { return threatOfResult(b) == t }
	}
	for _, a := range attacks {
		if a.Attack != "square" && a.Attack != "transfer" {
			continue
		}
		if w, ok := best(func(b AttackResult) bool { return whitebox(b) && sameEps(a)(b) }); ok {
			checks = append(checks, Check{
				Name:   fmt.Sprintf("%s weaker than white-box at eps %s", a.Attack, a.Eps),
				Passed: a.Accuracy >= w.Accuracy,
				Detail: fmt.Sprintf("%s %.4f vs %s %.4f", a.Attack, a.Accuracy, w.Attack, w.Accuracy),
			})
		}
	}
	for _, a := range attacks {
		if a.Attack != "fgsm" {
			continue
		}
		if w, ok := best(func(b AttackResult) bool { return b.Attack == "pgd" && sameEps(a)(b) }); ok {
			checks = append(checks, Check{
				Name:   fmt.Sprintf("fgsm weaker than pgd at eps %s", a.Eps),
				Passed: a.Accuracy >= w.Accuracy,
				Detail: fmt.Sprintf("fgsm %.4f vs pgd %.4f", a.Accuracy, w.Accuracy),
			})
		}
	}
	// More steps or restarts must not help the model (the same loss and,
	// for an SGN, the same gradient path).
	for _, a := range attacks {
		for _, b := range attacks {
			if a.Attack != "pgd" || b.Attack != "pgd" || !sameEps(a)(b) || a.Params["loss"] != b.Params["loss"] || a.Params["targets"] != b.Params["targets"] ||
				a.Params["sg_grad"] != b.Params["sg_grad"] || a.Params["surrogate"] != b.Params["surrogate"] {
				continue
			}
			sa, ra := num(a.Params["steps"]), num(a.Params["restarts"])
			sb, rb := num(b.Params["steps"]), num(b.Params["restarts"])
			if sb*rb > sa*ra && sb >= sa && rb >= ra {
				checks = append(checks, Check{
					Name:   fmt.Sprintf("stronger pgd no worse at eps %s", a.Eps),
					Passed: b.Accuracy <= a.Accuracy,
					Detail: fmt.Sprintf("%v steps x %v restarts %.4f vs %v x %v %.4f", sb, rb, b.Accuracy, sa, ra, a.Accuracy),
				})
			}
		}
	}
	// For an SGN, attacking through the exact self-gradient path should be
	// at least as strong as treating it as constant or smoothing sign: if a
	// variant does better, the exact gradient is masked (sign has zero
	// derivative almost everywhere) and only the variant's figure counts.
	for _, a := range attacks {
		if a.Attack != "pgd" || a.Params["sg_grad"] != "exact" || a.Params["surrogate"] != "" {
			continue
		}
		for _, b := range attacks {
			if b.Attack != "pgd" || !sameEps(a)(b) || b.Params["loss"] != a.Params["loss"] ||
				b.Params["steps"] != a.Params["steps"] || b.Params["restarts"] != a.Params["restarts"] ||
				(b.Params["sg_grad"] != "detached" && b.Params["surrogate"] == "") {
				continue // the same budget, through another path
			}
			variant := "detached path"
			if b.Params["surrogate"] != "" {
				variant = "smooth surrogate " + b.Params["surrogate"]
			}
			checks = append(checks, Check{
				Name:   fmt.Sprintf("exact SGN gradient no weaker than %s at eps %s", variant, a.Eps),
				Passed: a.Accuracy <= b.Accuracy,
				Detail: fmt.Sprintf("exact %.4f vs %s %.4f", a.Accuracy, variant, b.Accuracy),
			})
		}
	}
	// In a suite, the attacks that do not follow the model's own gradient
	// (gradient-free, transferred, through an SGN's detached path or a
	// surrogate) run after the white-box ones, on what those left: any
	// example they break is one the white-box attacks missed.
	for _, a := range attacks {
		var white []string
		for _, m := range a.Members {
			if m.Via == "" && whiteBox(m.Attack) {
				white = append(white, m.Name)
				continue
			}
			if len(white) == 0 {
				continue
			}
			checks = append(checks, Check{
				Name:   fmt.Sprintf("%s adds at most %.1f points to the white-box attacks of suite %s at %s eps %s", memberLabel(m), 100*suiteTolerance, a.Params["suite"], threatOfResult(a).norm, a.Eps),
				Passed: float64(m.Broken) <= suiteTolerance*float64(a.N),
				Detail: fmt.Sprintf("%s broke %d of the %d examples left by the attacks before it (white-box: %s): %.1f points of accuracy", m.Name, m.Broken, m.Attacked, strings.Join(white, ", "),
					100*float64(m.Broken)/float64(max(a.N, 1))),
			})
		}
	}
	// At a large eps accuracy should fall towards zero.
	for _, a := range attacks {
		if e := num(a.Eps); e >= 0.5 && threatOfResult(a).norm == "linf" && (whitebox(a) || a.Attack == "suite") {
			checks = append(checks, Check{
				Name:   fmt.Sprintf("%s at large eps %s reaches near zero", a.Attack, a.Eps),
				Passed: a.Accuracy <= 0.1,
				Detail: fmt.Sprintf("accuracy %.4f", a.Accuracy),
			})
		}
	}
	return checks
}

// suiteTolerance is how much of a suite's accuracy (a fraction of its
// examples) the attacks after the white-box ones may take before the check
// flags masking: AutoAttack's own check on Square uses 0.2 points, since a
// random search breaks the odd example of any model.
const suiteTolerance = 0.002

// whiteBox reports whether an attack follows the gradient of the model it
// attacks.
func whiteBox(attack string) bool {
	return attack == "pgd" || attack == "apgd" || attack == "cw" || attack == "fab"
}

// threatOfResult is an attack's threat model and eps, as evaluations group
// them.
func threatOfResult(a AttackResult) threat {
	return threatOf(&Source{Eps: a.Eps, Params: a.Params})
}

func num(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 1
	}
	return v
}
