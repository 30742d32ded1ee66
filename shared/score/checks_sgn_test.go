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
