package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/engine"
	"sgn/shared/examples"
)

// GradConfig is one sgn-grad run.
type GradConfig struct {
	Model *classifier.Classifier
	Loss  engine.Loss
	Self  bool // differentiate the loss of the predicted label, not the true one
	Batch int
	Zstd  bool
	// Source names the examples in messages (a file name, or "stdin").
	Source string
}

// GradSummary sums up the gradient norms of a run.
type GradSummary struct {
	N                 int
	MeanL2, MeanLinf  float64
	SelfGradMeanL2    map[string]float64
	Gates             map[string][]float32
	ZeroGradExamples  int
	NonFiniteExamples int
}

// Gradients writes, for every example of r, the gradient of the loss with
// respect to the input (as the image column), the loss, the label used, the
// prediction and the gradient's norms; for an SGN, the L2 norm of each
// self-gradient per example and the gate values in the metadata.
//
// It stops, with ctx's cause, once ctx is done.
func Gradients(ctx context.Context, cfg GradConfig, r io.Reader, w io.Writer) (GradSummary, error) {
	var sum GradSummary
	net := cfg.Model.Net
	k := net.Config.Classes
	sr, err := examples.NewReader(sourceName(cfg.Source), r, examples.Model{Shape: net.Config.InShape, Classes: k}, cfg.Batch)
	if err != nil {
		return sum, err
	}
	defer sr.Close()
	h := sr.Header()
	d := h.ExampleSize()
	prog, err := engine.NewInputGrad(net, cfg.Batch, cfg.Loss, engine.WithForward(cfg.Model.Forward()))
	if err != nil {
		return sum, err
	}
	defer prog.Close()
	var taps []string
	for _, name := range prog.Outputs() {
		if t, ok := strings.CutPrefix(name, "selfgrad."); ok {
			taps = append(taps, t)
		}
	}
	var logitsProg *engine.Program
	if cfg.Self {
		if logitsProg, err = engine.NewLogits(net, cfg.Batch, engine.WithForward(cfg.Model.Forward())); err != nil {
			return sum, err
		}
		defer logitsProg.Close()
	}
	meta := maps.Clone(h.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	// The image column holds raw gradient values, not pixels to rescale.
	meta[stream.MetaPixelScale] = "1"
	meta[stream.MetaGradLoss] = string(cfg.Loss)
	meta[stream.MetaGradLabel] = map[bool]string{true: "pred", false: "true"}[cfg.Self]
	meta[stream.MetaModel] = cfg.Model.Describe()
	cols := []stream.ColumnSpec{{Name: stream.ColPred, Type: stream.Int64Column}, {Name: stream.ColLoss, Type: stream.Float32Column},
		{Name: stream.ColGradL2, Type: stream.Float32Column}, {Name: stream.ColGradLinf, Type: stream.Float32Column}}
	for _, t := range taps {
		cols = append(cols, stream.ColumnSpec{Name: stream.SelfGradL2Column(t), Type: stream.Float32Column})
	}
	// Gates are parameters: read them once from a first run below.
	sum.SelfGradMeanL2 = map[string]float64{}
	var sw *stream.Writer
	var opts []stream.WriterOption
	if cfg.Zstd {
		opts = append(opts, stream.WithZstd())
	}
	x := make([]float32, cfg.Batch*d)
	labels := make([]int64, cfg.Batch)
	for sr.Next() {
		b, images := sr.Batch(), sr.Images()
		for lo := 0; lo < b.Len(); lo += cfg.Batch {
			if ctx.Err() != nil {
				return sum, context.Cause(ctx)
			}
			hi := min(lo+cfg.Batch, b.Len())
			m := hi - lo
			clear(x)
			copy(x, images[lo*d:hi*d])
			for i := range labels {
				labels[i] = -1
				if i < m {
					labels[i] = b.Labels[lo+i]
				}
			}
			if cfg.Self {
				if err := logitsProg.Set("x", x); err != nil {
					return sum, err
				}
				if err := logitsProg.Run(); err != nil {
					return sum, err
				}
				z, err := logitsProg.Output("logits")
				if err != nil {
					return sum, err
				}
				for i := 0; i < m; i++ {
					labels[i] = int64(attack.Predict(z[i*k : (i+1)*k]))
				}
			}
			if err := prog.Set("x", x); err != nil {
				return sum, err
			}
			if err := prog.SetLabels(labels); err != nil {
				return sum, err
			}
			if err := prog.Run(); err != nil {
				return sum, err
			}
			grad, _ := prog.Output("grad")
			grad = slices.Clone(grad[:m*d])
			loss, _ := prog.Output("loss")
			loss = slices.Clone(loss[:m])
			z, _ := prog.Output("logits")
			pred := attack.Predictions(z[:m*k], k)
			l2, linf := make([]float32, m), make([]float32, m)
			for i := 0; i < m; i++ {
				l2[i], linf[i] = norms(grad[i*d : (i+1)*d])
				sum.MeanL2 += float64(l2[i])
				sum.MeanLinf += float64(linf[i])
				if l2[i] == 0 {
					sum.ZeroGradExamples++
				}
				if math.IsNaN(float64(l2[i])) || math.IsInf(float64(l2[i]), 0) {
					sum.NonFiniteExamples++
				}
			}
			extra := []stream.Column{{Name: stream.ColPred, Int64: pred}, {Name: stream.ColLoss, Float32: loss}, {Name: stream.ColGradL2, Float32: l2}, {Name: stream.ColGradLinf, Float32: linf}}
			for _, t := range taps {
				s, err := prog.Output("selfgrad." + t)
				if err != nil {
					return sum, err
				}
				per := len(s) / cfg.Batch
				v := make([]float32, m)
				for i := range v {
					v[i], _ = norms(s[i*per : (i+1)*per])
					sum.SelfGradMeanL2[t] += float64(v[i])
				}
				extra = append(extra, stream.Column{Name: stream.SelfGradL2Column(t), Float32: v})
			}
			if sw == nil {
				if cfg.Model.SGN != nil {
					sum.Gates = map[string][]float32{}
					for _, t := range taps {
						g, err := prog.Output("gate." + t)
						if err != nil {
							return sum, err
						}
						sum.Gates[t] = slices.Clone(g)
					}
					gj, _ := json.Marshal(sum.Gates)
					meta[stream.MetaGates] = string(gj)
				}
				if sw, err = stream.NewWriter(w, stream.Header{Shape: h.Shape, Elem: stream.Float32, Extra: cols, Metadata: meta}, opts...); err != nil {
					return sum, err
				}
			}
			if err := sw.Write(&stream.Batch{Floats: grad, Labels: slices.Clone(labels[:m]), Extra: extra}); err != nil {
				return sum, err
			}
			sum.N += m
		}
	}
	if err := sr.Err(); err != nil {
		return sum, err
	}
	if sw == nil {
		return sum, fmt.Errorf("%s: the stream holds no examples", sourceName(cfg.Source))
	}
	if sum.N > 0 {
		sum.MeanL2 /= float64(sum.N)
		sum.MeanLinf /= float64(sum.N)
		for t := range sum.SelfGradMeanL2 {
			sum.SelfGradMeanL2[t] /= float64(sum.N)
		}
	}
	return sum, sw.Close()
}

func norms(v []float32) (l2, linf float32) {
	var ss, mx float64
	for _, x := range v {
		a := math.Abs(float64(x))
		ss += a * a
		mx = math.Max(mx, a)
	}
	return float32(math.Sqrt(ss)), float32(mx)
}
