package score

import "testing"

func TestMaskingChecksSGNVariants(t *testing.T) {
	exact := AttackResult{Attack: "pgd", Eps: "0.1", Accuracy: 0.92, Params: map[string]string{"loss": "ce", "sg_grad": "exact"}}
	smooth := AttackResult{Attack: "pgd", Eps: "0.1", Accuracy: 0.89, Params: map[string]string{"loss": "ce", "sg_grad": "exact", "surrogate": "tanh(s/0.05)"}}
	detached := AttackResult{Attack: "pgd", Eps: "0.1", Accuracy: 0.95, Params: map[string]string{"loss": "ce", "sg_grad": "detached"}}
	otherEps := AttackResult{Attack: "pgd", Eps: "0.2", Accuracy: 0.10, Params: map[string]string{"loss": "ce", "sg_grad": "detached"}}
	checks := MaskingChecks([]AttackResult{exact, smooth, detached, otherEps})
	got := map[string]bool{}
	for _, c := range checks {
		got[c.Name] = c.Passed
	}
	for name, want := range map[string]bool{
		"exact SGN gradient no weaker than smooth surrogate tanh(s/0.05) at eps 0.1": false,
		"exact SGN gradient no weaker than detached path at eps 0.1":                 true,
	} {
		passed, ok := got[name]
		if !ok {
			t.Errorf("no check %q among %v", name, checks)
			continue
		}
		if passed != want {
			t.Errorf("%s: passed=%v, want %v", name, passed, want)
		}
	}
	for name := range got {
		if name == "exact SGN gradient no weaker than detached path at eps 0.2" {
			t.Error("compared attacks at different eps")
		}
	}
}

// With a stronger PGD among an SGN's attacks, each check compares like with
// like: more steps and restarts on the same gradient path, and the exact
// path against a variant at the same budget; no pair twice.
func TestMaskingChecksSGNStrongerPGD(t *testing.T) {
	params := func(steps, restarts, grad, surrogate string) map[string]string {
		p := map[string]string{"loss": "ce", "steps": steps, "restarts": restarts, "sg_grad": grad}
		if surrogate != "" {
			p["surrogate"] = surrogate
		}
		return p
	}
	attacks := []AttackResult{
		{Attack: "pgd", Eps: "0.1", Accuracy: 0.85, Params: params("10", "1", "exact", "")},
		{Attack: "pgd", Eps: "0.1", Accuracy: 0.84, Params: params("20", "2", "exact", "")},
		{Attack: "pgd", Eps: "0.1", Accuracy: 0.85, Params: params("10", "1", "detached", "")},
		{Attack: "pgd", Eps: "0.1", Accuracy: 0.83, Params: params("10", "1", "exact", "tanh(s/0.05)")},
	}
	count := map[string]int{}
	for _, c := range MaskingChecks(attacks) {
		count[c.Name]++
	}
	for name, want := range map[string]int{
		"stronger pgd no worse at eps 0.1":                                           1,
		"exact SGN gradient no weaker than detached path at eps 0.1":                 1,
		"exact SGN gradient no weaker than smooth surrogate tanh(s/0.05) at eps 0.1": 1,
	} {
		if count[name] != want {
			t.Errorf("%q: %d checks, want %d (all: %v)", name, count[name], want, count)
		}
	}
}
