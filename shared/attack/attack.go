package attack

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// A Loss names the per-example loss an attack ascends.
type Loss string

const (
	// LossCE is softmax cross-entropy, logsumexp(z) - z_y.
	LossCE Loss = "ce"
	// LossCW is the margin max_{j≠y} z_j - z_y, positive when misclassified.
	LossCW Loss = "cw"
	// LossDLR is the difference-of-logits ratio of Croce and Hein (2020),
	// -(z_y - max_{j≠y} z_j) / (z_π1 - z_π3 + 1e-12) with z_π1 ≥ z_π2 ≥ z_π3
	// the largest logits. The oracle has no graph for it: attacks take its
	// gradient with VJP and need at least three classes.
	LossDLR Loss = "dlr"
)

// A Norm names the threat model: the norm of the perturbation budget.
type Norm string

const (
	// Linf bounds the largest change of any input value.
	Linf Norm = "linf"
	// L2 bounds the Euclidean norm of the change of an example.
	L2 Norm = "l2"
)

// Oracle is a differentiable classifier seen by an attacker.
type Oracle interface {
	// Classes returns K, the number of classes.
	Classes() int
	// InputSize returns d, the number of values of one example.
	InputSize() int
	// Logits writes the logits of n examples.
	Logits(x []float32, n int, logits []float32) error
	// LossGrad writes each example's loss (loss[i] of example i w.r.t.
	// labels[i]) and the gradient of that example's loss w.r.t. its own
	// input, and the logits. l is LossCE or LossCW.
	LossGrad(l Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error
	// VJP writes, for each example, d(sum_k cot[i,k]*z[i,k])/dx_i, and the
	// logits.
	VJP(x []float32, cot []float32, n int, grad, logits []float32) error
}

// An Attack computes adversarial examples.
type Attack interface {
	// Name returns a short lower-case name, such as "pgd".
	Name() string
	// Params returns the effective parameters, defaults filled in, for
	// output metadata.
	Params() map[string]string
	// Run returns adversarial versions of the n examples x0 with true labels
	// labels. It neither modifies x0 nor keeps it.
	Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error)
}

var (
	_ Attack = FGSM{}
	_ Attack = PGD{}
	_ Attack = CW{}
	_ Attack = APGD{}
	_ Attack = Square{}
)

// checkBatch validates the inputs of a Run and returns d and K.
func checkBatch(o Oracle, x0 []float32, labels []int64, n int) (d, k int, err error) {
	if o == nil {
		return 0, 0, errors.New("attack: nil oracle")
	}
	d, k = o.InputSize(), o.Classes()
	switch {
	case d <= 0:
		return 0, 0, fmt.Errorf("attack: oracle input size %d", d)
	case k < 2:
		return 0, 0, fmt.Errorf("attack: oracle has %d classes, need at least 2", k)
	case n < 0:
		return 0, 0, fmt.Errorf("attack: negative batch size %d", n)
	case len(x0) != n*d:
		return 0, 0, fmt.Errorf("attack: %d examples of size %d need %d values, got %d", n, d, n*d, len(x0))
	case len(labels) != n:
		return 0, 0, fmt.Errorf("attack: %d examples need %d labels, got %d", n, n, len(labels))
	}
	for i, y := range labels {
		if y < 0 || y >= int64(k) {
			return 0, 0, fmt.Errorf("attack: label %d of example %d is not in [0, %d)", y, i, k)
		}
	}
	for i, v := range x0 {
		// Written so that NaN fails too: the [0, 1] clipping of the
		// attacks would otherwise silently change the clean input.
		if !(v >= 0 && v <= 1) {
			return 0, 0, fmt.Errorf("attack: input value %v of example %d is not in [0, 1]", v, i/d)
		}
	}
	return d, k, nil
}

// checkBudget validates a norm and a radius.
func checkBudget(norm Norm, eps float64) error {
	if norm != Linf && norm != L2 {
		return fmt.Errorf("attack: unknown norm %q", norm)
	}
	if !(eps >= 0) || math.IsInf(eps, 1) {
		return fmt.Errorf("attack: eps %v is not a finite non-negative number", eps)
	}
	return nil
}

// checkLoss validates a loss for a gradient attack on K classes.
func checkLoss(l Loss, k int) error {
	switch l {
	case LossCE, LossCW:
		return nil
	case LossDLR:
		if k < 3 {
			return fmt.Errorf("attack: the dlr loss needs at least 3 classes, oracle has %d", k)
		}
		return nil
	}
	return fmt.Errorf("attack: unknown loss %q", l)
}

// Predict returns the predicted class: the first index of the largest logit.
func Predict(z []float32) int {
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}

// Predictions returns the predicted class of each row of logits z [n,k].
func Predictions(z []float32, k int) []int64 {
	out := make([]int64, len(z)/k)
	for i := range out {
		out[i] = int64(Predict(z[i*k : (i+1)*k]))
	}
	return out
}

// otherMax returns the index of the largest logit other than y's.
func otherMax(z []float32, y int) int {
	o := -1
	for j, v := range z {
		if j != y && (o < 0 || v > z[o]) {
			o = j
		}
	}
	return o
}

// ceLoss returns logsumexp(z) - z_y in float64.
func ceLoss(z []float32, y int) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s) - float64(z[y])
}

// marginLoss returns max_{j≠y} z_j - z_y.
func marginLoss(z []float32, y int) float64 {
	return float64(z[otherMax(z, y)]) - float64(z[y])
}

// top3 returns the indices of the three largest logits, largest first.
func top3(z []float32) (p1, p2, p3 int) {
	p1, p2, p3 = -1, -1, -1
	for j, v := range z {
		switch {
		case p1 < 0 || v > z[p1]:
			p1, p2, p3 = j, p1, p2
		case p2 < 0 || v > z[p2]:
			p2, p3 = j, p2
		case p3 < 0 || v > z[p3]:
			p3 = j
		}
	}
	return p1, p2, p3
}

// dlrLoss returns the DLR loss of logits z (at least 3) for label y and, if
// cot is not nil, writes its gradient w.r.t. z there. With N = z_y - z_o
// (o = argmax_{j≠y}) and D = z_π1 - z_π3 + 1e-12, the loss is -N/D and its
// gradient is -1/D at y, +1/D at o, +N/D² at π1 and -N/D² at π3, summed
// where indices coincide.
func dlrLoss(z []float32, y int, cot []float32) float64 {
	o := otherMax(z, y)
	p1, _, p3 := top3(z)
	num := float64(z[y]) - float64(z[o])
	den := float64(z[p1]) - float64(z[p3]) + 1e-12
	if cot != nil {
		clear(cot)
		cot[y] -= float32(1 / den)
		cot[o] += float32(1 / den)
		cot[p1] += float32(num / (den * den))
		cot[p3] -= float32(num / (den * den))
	}
	return -num / den
}

// lossValue returns loss l of logits z for label y in float64.
func lossValue(l Loss, z []float32, y int) float64 {
	switch l {
	case LossCW:
		return marginLoss(z, y)
	case LossDLR:
		return dlrLoss(z, y, nil)
	}
	return ceLoss(z, y)
}

// evaluator computes loss gradients through an oracle, with reusable
// buffers for what the oracle writes and the attack does not keep.
type evaluator struct {
	o        Oracle
	d, k     int
	oraLoss  []float32 // per-example loss written by the oracle
	cot      []float32 // DLR cotangents
	scratchZ []float32 // logits written again by VJP
}

func (e *evaluator) grow(n int) {
	e.oraLoss = grow(e.oraLoss, n)
	e.cot = grow(e.cot, n*e.k)
	e.scratchZ = grow(e.scratchZ, n*e.k)
}

// lossGrad writes, for m examples x with labels y, the gradient of loss l
// w.r.t. each input, the logits, and the loss value computed from the
// logits in float64 (so that it ranks iterates the same way whether they
// came from LossGrad or Logits). DLR costs a Logits and a VJP call.
func (e *evaluator) lossGrad(l Loss, x []float32, y []int64, m int, grad, logits []float32, loss []float64) error {
	k := e.k
	e.grow(m)
	switch l {
	case LossCE, LossCW:
		if err := e.o.LossGrad(l, x, y, m, e.oraLoss[:m], grad, logits); err != nil {
			return fmt.Errorf("attack: %s loss gradient: %w", l, err)
		}
	case LossDLR:
		if err := callLogits(e.o, x, m, logits); err != nil {
			return err
		}
		for i := range m {
			dlrLoss(logits[i*k:(i+1)*k], int(y[i]), e.cot[i*k:(i+1)*k])
		}
		if err := e.o.VJP(x, e.cot[:m*k], m, grad, e.scratchZ[:m*k]); err != nil {
			return fmt.Errorf("attack: dlr vector-Jacobian product: %w", err)
		}
	default:
		return fmt.Errorf("attack: unknown loss %q", l)
	}
	if err := checkFinite(logits[:m*k]); err != nil {
		return err
	}
	for i := range m {
		loss[i] = lossValue(l, logits[i*k:(i+1)*k], int(y[i]))
	}
	return nil
}

// logits writes the logits of m examples and their loss l.
func (e *evaluator) logits(l Loss, x []float32, y []int64, m int, logits []float32, loss []float64) error {
	if err := callLogits(e.o, x, m, logits); err != nil {
		return err
	}
	for i := range m {
		loss[i] = lossValue(l, logits[i*e.k:(i+1)*e.k], int(y[i]))
	}
	return nil
}

// callLogits asks o for the logits of n examples and checks them.
func callLogits(o Oracle, x []float32, n int, logits []float32) error {
	if err := o.Logits(x, n, logits); err != nil {
		return fmt.Errorf("attack: logits: %w", err)
	}
	return checkFinite(logits)
}

// checkFinite refuses NaN or infinite logits: ranking or counting them as
// misclassified would report a broken model as a successful attack.
func checkFinite(logits []float32) error {
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("attack: oracle returned logit %v at index %d", v, i)
		}
	}
	return nil
}

// grow returns s resliced to length n, reallocated only if too short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// gather copies the rows idx of src (rows of width w) into dst.
func gather[T any](dst, src []T, idx []int, w int) {
	for j, i := range idx {
		copy(dst[j*w:(j+1)*w], src[i*w:(i+1)*w])
	}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
