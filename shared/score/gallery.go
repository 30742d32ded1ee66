package score

import (
	"cmp"
	"fmt"
	"slices"
)

// ShownExamples is how many examples a Scorer made WithImages keeps the
// images of, per stream: those of lowest index.
const ShownExamples = 8

// Shown is one example kept for display.
type Shown struct {
	Index int64
	Label int64
	// Pred is the prediction on these pixels (the adversarial prediction
	// for attack streams), or -1 when unknown.
	Pred   int64
	Pixels []float32 // C*H*W values in [0,1]; nil for a missing example
}

// Gallery is what a grid of examples shows: for the same examples, the
// clean images (when a plain stream was read) and each attack's
// adversarial images.
type Gallery struct {
	Shape   []int // per-example image shape (C,H,W)
	Classes []string
	Index   []int64 // the examples shown, one per column
	Clean   []Shown // aligned with Index; nil when no clean images were read
	Rows    []GalleryRow
}

// GalleryRow is one attack's adversarial images, aligned with
// Gallery.Index.
type GalleryRow struct {
	Label    string
	Examples []Shown
}

// keepShown inserts e into list, ordered by index, keeping at most
// ShownExamples entries of lowest index; it copies e.Pixels only when e is
// kept.
func keepShown(list []Shown, e Shown) []Shown {
	if len(list) == ShownExamples && e.Index >= list[len(list)-1].Index {
		return list
	}
	at, found := slices.BinarySearchFunc(list, e.Index, byIndex)
	if found {
		return list
	}
	e.Pixels = slices.Clone(e.Pixels)
	list = slices.Insert(list, at, e)
	if len(list) > ShownExamples {
		list = list[:ShownExamples]
	}
	return list
}

func byIndex(s Shown, i int64) int { return cmp.Compare(s.Index, i) }

// wants reports whether keepShown would keep an example of this index.
func wants(list []Shown, index int64) bool {
	return len(list) < ShownExamples || index < list[len(list)-1].Index
}

// gallery builds the gallery of the table's sources and, when not nil, the
// clean images of a plain stream that was not scored (matched to the attack
// streams' examples by index, its position).
func (t *Table) gallery(shape []int, reference []Shown) (Gallery, error) {
	g := Gallery{Shape: shape}
	var attacks []*Source
	for _, s := range t.Sources {
		if g.Classes == nil {
			g.Classes = s.Classes
		}
		switch {
		case s.Name != "clean":
			attacks = append(attacks, s)
		case reference == nil:
			reference = s.Shown
		}
	}
	// The columns: the lowest indices any attack stream kept, or those of
	// the clean images when there is no attack.
	for _, s := range attacks {
		for _, e := range s.Shown {
			g.Index = append(g.Index, e.Index)
		}
	}
	if len(attacks) == 0 {
		for _, e := range reference {
			g.Index = append(g.Index, e.Index)
		}
	}
	slices.Sort(g.Index)
	g.Index = slices.Compact(g.Index)
	g.Index = g.Index[:min(len(g.Index), ShownExamples)]
	if len(g.Index) == 0 {
		return g, fmt.Errorf("no images to show")
	}
	align := func(list []Shown) []Shown {
		out := make([]Shown, len(g.Index))
		for j, i := range g.Index {
			out[j] = Shown{Index: i, Label: -1, Pred: -1}
			if k, ok := slices.BinarySearchFunc(list, i, byIndex); ok {
				out[j] = list[k]
			}
		}
		return out
	}
	for _, s := range attacks {
		g.Rows = append(g.Rows, GalleryRow{Label: AttackResult{Attack: s.Name, Eps: s.Eps, Params: s.Params}.Label(), Examples: align(s.Shown)})
	}
	if reference != nil {
		g.Clean = align(reference)
		for j, c := range g.Clean {
			for _, s := range attacks {
				o, ok := s.Outcomes[c.Index]
				if !ok {
					continue
				}
				if c.Pixels != nil && o.Label != c.Label {
					return g, fmt.Errorf("clean example %d has label %d, the attack streams %d: not the same examples", c.Index, c.Label, o.Label)
				}
				if o.CleanPred >= 0 {
					g.Clean[j].Pred = o.CleanPred
				}
			}
		}
	}
	return g, nil
}
