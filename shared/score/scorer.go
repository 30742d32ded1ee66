package score

import (
	"context"
	"fmt"
	"io"
	"slices"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/engine"
	"sgn/shared/examples"
)

// Scorer reads streams into a Table, running a model on them when it has
// one.
type Scorer struct {
	cls    *classifier.Classifier
	batch  int
	oracle *engine.Oracle
	table  Table

	images    bool
	shape     []int   // image shape of the streams read, when keeping images
	reference []Shown // clean images of a plain stream read without a model
	refName   string

	// The SHA-256 of the model's checkpoint, when scoring through it.
	checkpoint string
}

// Option configures a Scorer.
type Option func(*Scorer)

// WithImages makes the scorer keep, per stream, the images of the
// ShownExamples examples of lowest index, for Gallery. It also accepts one
// plain example stream without a model: not scored, it supplies the clean
// images, example i being the one at position i.
func WithImages() Option { return func(s *Scorer) { s.images = true } }

// WithCheckpoint records the SHA-256 of the checkpoint file the scorer's
// model comes from, for the report (its recipe comes from the model).
func WithCheckpoint(sha256 string) Option { return func(s *Scorer) { s.checkpoint = sha256 } }

// NewScorer returns a scorer; cls may be nil (attack streams only).
func NewScorer(cls *classifier.Classifier, batch int, opts ...Option) *Scorer {
	s := &Scorer{cls: cls, batch: batch}
	for _, o := range opts {
		o(s)
	}
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

// batchReader is what Read needs of a stream: examples.Reader, which
// checks examples for the model, or a plain stream.Reader.
type batchReader interface {
	Header() stream.Header
	Next() bool
	Batch() *stream.Batch
	Err() error
	Close()
}

// Read adds one stream, named name in messages. It stops, with ctx's
// cause, once ctx is done.
func (s *Scorer) Read(ctx context.Context, name string, r io.Reader) error {
	var (
		sr batchReader
		er *examples.Reader // when running the model
		k  int
	)
	if s.cls != nil {
		k = s.cls.Net.Config.Classes
		if err := s.oracle.Fits(); err != nil {
			return err
		}
		var err error
		if er, err = examples.NewReader(name, r, examples.Model{Shape: s.cls.Net.Config.InShape, Classes: k}, s.batch); err != nil {
			return err
		}
		sr = er
	} else {
		plain, err := stream.NewReader(r, stream.WithMaxRows(examples.MaxRows(s.batch)))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		sr = plain
	}
	defer sr.Close()
	h := sr.Header()
	attackStream := IsAttackStream(h)
	reference := s.cls == nil && !attackStream
	if reference && !s.images {
		return fmt.Errorf("%s: a stream of plain examples needs -model to be scored", name)
	}
	if reference && s.reference != nil {
		return fmt.Errorf("%s: a second stream of plain examples: without -model only one can give the clean images (%s does)", name, s.refName)
	}
	if s.images {
		if s.shape == nil {
			s.shape = h.Shape
		} else if !slices.Equal(s.shape, h.Shape) {
			return fmt.Errorf("%s: images of shape %v, the other streams' %v", name, h.Shape, s.shape)
		}
	}
	src, err := SourceFromHeader(name, h)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if s.cls != nil {
		// Run through the model, the streams evaluate that model, whatever
		// they were crafted against (a transfer of their images).
		src.Checkpoint, src.Model, src.Recipe = "", "", nil
	}
	suite := len(src.Members) > 0
	if suite && !hasColumn(h, stream.ColBrokenBy) {
		return fmt.Errorf("%s: a suite's stream without its %s column", name, stream.ColBrokenBy)
	}
	var next int64
	var pixels []float32
	var logits []float32
	for sr.Next() {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", name, context.Cause(ctx))
		}
		b := sr.Batch()
		n := b.Len()
		index := make([]int64, n)
		cleanPred := make([]int64, n)
		advPred := make([]int64, n)
		brokenBy := make([]int64, n)
		for i := range index {
			index[i], cleanPred[i], brokenBy[i] = next+int64(i), -1, -1
		}
		if attackStream {
			col, _ := b.Column(stream.ColIndex)
			copy(index, col.Int64)
			if c, ok := b.Column(stream.ColCleanPred); ok {
				copy(cleanPred, c.Int64)
			}
			c, _ := b.Column(stream.ColAdvPred)
			copy(advPred, c.Int64)
			if c, ok := b.Column(stream.ColBrokenBy); ok && suite {
				copy(brokenBy, c.Int64)
				for i, v := range brokenBy {
					if v < -1 || v >= int64(len(src.Members)) {
						return fmt.Errorf("%s: example %d: %s is %d, want -1 or a member's position below %d", name, index[i], stream.ColBrokenBy, v, len(src.Members))
					}
				}
			}
		}
		if s.cls != nil {
			images := er.Images()
			if cap(logits) < n*k {
				logits = make([]float32, n*k)
			}
			logits = logits[:n*k]
			if err := s.oracle.Logits(images, n, logits); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for i := range advPred {
				advPred[i] = int64(attack.Predict(logits[i*k : (i+1)*k]))
				if !attackStream {
					cleanPred[i] = advPred[i]
				}
			}
		}
		for i := range index {
			if s.images && wants(src.Shown, index[i]) {
				pixels = examplePixels(h, b, i, pixels)
				pred := advPred[i]
				if reference {
					pred = -1
				}
				src.Shown = keepShown(src.Shown, Shown{Index: index[i], Label: b.Labels[i], Pred: pred, Pixels: pixels})
			}
			if reference {
				continue
			}
			if b.Labels[i] < 0 || (s.cls != nil && b.Labels[i] >= int64(k)) {
				return fmt.Errorf("%s: example %d has label %d, outside the model's %d classes", name, index[i], b.Labels[i], k)
			}
			if _, dup := src.Outcomes[index[i]]; dup {
				return fmt.Errorf("%s: example %d appears twice", name, index[i])
			}
			src.Outcomes[index[i]] = Outcome{Index: index[i], Label: b.Labels[i], CleanPred: cleanPred[i], AdvPred: advPred[i], BrokenBy: brokenBy[i]}
		}
		next += int64(n)
		if reference && len(src.Shown) == ShownExamples {
			break // positions only grow: no later example would be kept
		}
	}
	if err := sr.Err(); err != nil {
		if er != nil {
			return err // it names the stream
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if reference {
		if len(src.Shown) == 0 {
			return fmt.Errorf("%s: no examples", name)
		}
		s.reference, s.refName = src.Shown, name
		return nil
	}
	if len(src.Outcomes) == 0 {
		return fmt.Errorf("%s: no examples", name)
	}
	return s.table.Add(src)
}

// Result computes the report of everything read so far. Scored through a
// model, the report names that model's checkpoint, whatever model the
// attack streams were crafted against.
func (s *Scorer) Result() (Result, error) {
	if len(s.table.Sources) == 0 && s.reference != nil {
		return Result{}, fmt.Errorf("%s: a stream of plain examples needs -model to be scored", s.refName)
	}
	r, err := s.table.Result()
	if err != nil || s.cls == nil {
		return r, err
	}
	r.Model, r.Checkpoint, r.Recipe = s.cls.Describe(), s.checkpoint, s.cls.Recipe()
	return r, nil
}

func hasColumn(h stream.Header, name string) bool {
	return slices.ContainsFunc(h.Extra, func(c stream.ColumnSpec) bool { return c.Name == name })
}

// Gallery returns the images kept for display: those of the examples of
// lowest index, clean and under each attack. The scorer must have been made
// WithImages.
func (s *Scorer) Gallery() (Gallery, error) {
	if !s.images {
		return Gallery{}, fmt.Errorf("the scorer kept no images")
	}
	return s.table.gallery(s.shape, s.reference)
}

// examplePixels returns example i of b as values in [0,1], in dst[:0].
func examplePixels(h stream.Header, b *stream.Batch, i int, dst []float32) []float32 {
	d, scale := h.ExampleSize(), h.Scale()
	dst = dst[:0]
	if h.Elem == stream.Float32 {
		for _, v := range b.Floats[i*d : (i+1)*d] {
			dst = append(dst, v*scale)
		}
		return dst
	}
	for _, p := range b.Pixels[i*d : (i+1)*d] {
		dst = append(dst, float32(p)*scale)
	}
	return dst
}
