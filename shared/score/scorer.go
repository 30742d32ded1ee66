package score

import (
	"fmt"
	"io"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/engine"
)

// Scorer reads streams into a Table, running a model on them when it has
// one.
type Scorer struct {
	cls    *classifier.Classifier
	batch  int
	oracle *engine.Oracle
	table  Table
}

// NewScorer returns a scorer; cls may be nil (attack streams only).
func NewScorer(cls *classifier.Classifier, batch int) *Scorer {
	s := &Scorer{cls: cls, batch: batch}
	if cls != nil {
		s.oracle = engine.NewOracle(cls.Net, batch, engine.WithForward(cls.Forward()))
	}
	return s
}

// Close releases the model's programs.
func (s *Scorer) Close() error {
	if s.oracle != nil {
		return s.oracle.Close()
	}
	return nil
}

// Read adds one stream, named name in messages.
func (s *Scorer) Read(name string, r io.Reader) error {
	sr, err := stream.NewReader(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer sr.Close()
	h := sr.Header()
	attackStream := IsAttackStream(h)
	if s.cls == nil && !attackStream {
		return fmt.Errorf("%s: a stream of plain examples needs -model to be scored", name)
	}
	if s.cls != nil {
		want := s.cls.Net.Config.InShape
		if len(h.Shape) != 3 || h.Shape[0] != want[0] || h.Shape[1] != want[1] || h.Shape[2] != want[2] {
			return fmt.Errorf("%s: images of shape %v, the model takes %v", name, h.Shape, want)
		}
	}
	src := SourceFromHeader(h)
	var next int64
	var images []float32
	var logits []float32
	k := 0
	if s.cls != nil {
		k = s.cls.Net.Config.Classes
	}
	for sr.Next() {
		b := sr.Batch()
		n := b.Len()
		index := make([]int64, n)
		cleanPred := make([]int64, n)
		advPred := make([]int64, n)
		for i := range index {
			index[i], cleanPred[i] = next+int64(i), -1
		}
		if attackStream {
			col, _ := b.Column(ColIndex)
			copy(index, col.Int64)
			if c, ok := b.Column(ColCleanPred); ok {
				copy(cleanPred, c.Int64)
			}
			c, _ := b.Column(ColAdvPred)
			copy(advPred, c.Int64)
		}
		if s.cls != nil {
			images = h.Float32Images(b, images)
			if cap(logits) < n*k {
				logits = make([]float32, n*k)
			}
			logits = logits[:n*k]
			if err := s.oracle.Logits(images, n, logits); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for i := range advPred {
				advPred[i] = int64(argmax(logits[i*k : (i+1)*k]))
				if !attackStream {
					cleanPred[i] = advPred[i]
				}
			}
		}
		for i := range index {
			if b.Labels[i] < 0 || (s.cls != nil && b.Labels[i] >= int64(k)) {
				return fmt.Errorf("%s: example %d has label %d, outside the model's %d classes", name, index[i], b.Labels[i], k)
			}
			if _, dup := src.Outcomes[index[i]]; dup {
				return fmt.Errorf("%s: example %d appears twice", name, index[i])
			}
			src.Outcomes[index[i]] = Outcome{Index: index[i], Label: b.Labels[i], CleanPred: cleanPred[i], AdvPred: advPred[i]}
		}
		next += int64(n)
	}
	if err := sr.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(src.Outcomes) == 0 {
		return fmt.Errorf("%s: no examples", name)
	}
	return s.table.Add(src)
}

// Result computes the report of everything read so far.
func (s *Scorer) Result() (Result, error) { return s.table.Result() }

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
