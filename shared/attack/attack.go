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
	// L1 bounds the sum of the absolute changes of an example (APGD and
	// PGD only).
	L1 Norm = "l1"
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
	// VJP writes the logits of n examples and, for each example i, the
	// gradient w.r.t. its input of sum_k c[k]*z[k], where z are its logits
	// and c the cotangent that cotangent(i, z, c) writes, into c zeroed,
	// once z is known; c is held constant. A loss computed from the
	// logits outside the oracle (DLR) so costs one pass, not a Logits
	// call and a VJP.
	VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error
}

// A Holder is an Oracle that can keep work depending on the network alone
// (its weights packed for matrix products) from one call to the next while
// held: the caller promises that the network does not change until it
// calls release, once. An attack holds its oracle while it runs.
type Holder interface {
	Hold() (release func())
}

// hold holds o if it is a Holder and returns the release.
func hold(o Oracle) (release func()) {
	if h, ok := o.(Holder); ok {
		return h.Hold()
	}
	return func() {}
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
	_ Attack = FAB{}
)

// DefaultTargets is how many target classes a targeted attack tries by
// default, as AutoAttack's APGD-T and FAB-T do: the nine most likely wrong
// classes, all of them for ten classes.
const DefaultTargets = 9

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

// checkBudget validates a norm and a radius: L∞ and L2 always, L1 if
// withL1.
func checkBudget(norm Norm, eps float64, withL1 bool) error {
	if norm != Linf && norm != L2 && (norm != L1 || !withL1) {
		if norm == L1 {
			return fmt.Errorf("attack: this attack has no l1 version")
		}
		return fmt.Errorf("attack: unknown norm %q", norm)
	}
	if !(eps >= 0) || math.IsInf(eps, 1) {
		return fmt.Errorf("attack: eps %v is not a finite non-negative number", eps)
	}
	return nil
}

// checkLoss validates a loss for a gradient attack on K classes, targeted
// or not.
func checkLoss(l Loss, k int, targeted bool) error {
	switch l {
	case LossCE, LossCW:
		return nil
	case LossDLR:
		if targeted && k < 4 {
			return fmt.Errorf("attack: the targeted dlr loss needs at least 4 classes, oracle has %d", k)
		}
		if k < 3 {
			return fmt.Errorf("attack: the dlr loss needs at least 3 classes, oracle has %d", k)
		}
		return nil
	}
	return fmt.Errorf("attack: unknown loss %q", l)
}

// checkTargets validates the number of target classes of a targeted attack.
func checkTargets(targeted bool, targets int) error {
	if targeted && targets < 1 {
		return fmt.Errorf("attack: a targeted attack needs at least 1 target class, got %d", targets)
	}
	return nil
}

// addTargets records a targeted attack's number of targets in its
// parameters. Untargeted attacks get no key, so that their parameters, and
// the streams sgn-score merges by them, are those of earlier versions.
func addTargets(p map[string]string, targeted bool, targets int) {
	if targeted {
		p["targets"] = strconv.Itoa(targets)
	}
}

// targetOrder writes to order, for each of the n examples, the classes
// other than its label ranked by their logit in z (largest first, ties to
// the lower index): row i of order, k-1 wide, lists example i's target
// classes, the most likely wrong class first. AutoAttack takes the second,
// third, ... largest logits, the same classes for a correctly classified
// example, which is the only kind attacks attack.
func targetOrder(order []int64, z []float32, labels []int64, n, k int) {
	for i := range n {
		row := order[i*(k-1) : (i+1)*(k-1)]
		zi := z[i*k : (i+1)*k]
		m := 0
		for j := range k {
			if int64(j) == labels[i] {
				continue
			}
			// Insertion sort: k is small, and this runs once per call.
			p := m
			for p > 0 && zi[row[p-1]] < zi[j] {
				row[p] = row[p-1]
				p--
			}
			row[p] = int64(j)
			m++
		}
	}
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

// top4 returns the indices of the four largest logits, largest first (-1
// where there are fewer).
func top4(z []float32) (p [4]int) {
	p = [4]int{-1, -1, -1, -1}
	for j, v := range z {
		for r := range p {
			if p[r] < 0 || v > z[p[r]] {
				copy(p[r+1:], p[r:3])
				p[r] = j
				break
			}
		}
	}
	return p
}

// dlrLoss returns the DLR loss of logits z (at least 3) for label y and, if
// cot is not nil, writes its gradient w.r.t. z there. With N = z_y - z_o
// (o = argmax_{j≠y}) and D = z_π1 - z_π3 + 1e-12, the loss is -N/D and its
// gradient is -1/D at y, +1/D at o, +N/D² at π1 and -N/D² at π3, summed
// where indices coincide.
func dlrLoss(z []float32, y int, cot []float32) float64 {
	o := otherMax(z, y)
	p := top4(z)
	p1, p3 := p[0], p[2]
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

// dlrTargetedLoss returns the targeted DLR loss of Croce and Hein (2020)
// of logits z (at least 4) for label y and target t and, if cot is not
// nil, writes its gradient w.r.t. z there. With N = z_y - z_t and
// D = z_π1 - (z_π3 + z_π4)/2 + 1e-12, the loss is -N/D and its gradient is
// -1/D at y, +1/D at t, +N/D² at π1 and -N/(2D²) at π3 and π4, summed
// where indices coincide.
func dlrTargetedLoss(z []float32, y, t int, cot []float32) float64 {
	p := top4(z)
	num := float64(z[y]) - float64(z[t])
	den := float64(z[p[0]]) - (float64(z[p[2]])+float64(z[p[3]]))/2 + 1e-12
	if cot != nil {
		clear(cot)
		cot[y] -= float32(1 / den)
		cot[t] += float32(1 / den)
		q := num / (den * den)
		cot[p[0]] += float32(q)
		cot[p[2]] -= float32(q / 2)
		cot[p[3]] -= float32(q / 2)
	}
	return -num / den
}

// lossValue returns loss l of logits z for label y in float64: for a
// target t ≥ 0 the targeted version, which rises as z moves towards t
// (log-probability of t for LossCE, the margin z_t - max_{j≠t} z_j for
// LossCW, the targeted DLR loss for LossDLR).
func lossValue(l Loss, z []float32, y, t int) float64 {
	if t >= 0 {
		switch l {
		case LossCW:
			return -marginLoss(z, t)
		case LossDLR:
			return dlrTargetedLoss(z, y, t, nil)
		}
		return -ceLoss(z, t)
	}
	switch l {
	case LossCW:
		return marginLoss(z, y)
	case LossDLR:
		return dlrLoss(z, y, nil)
	}
	return ceLoss(z, y)
}

// target returns the target of example j, or -1 without targets.
func target(t []int64, j int) int {
	if t == nil {
		return -1
	}
	return int(t[j])
}

// evaluator computes loss gradients through an oracle, with reusable
// buffers for what the oracle writes and the attack does not keep.
type evaluator struct {
	o       Oracle
	d, k    int
	oraLoss []float32 // per-example loss written by the oracle
}

func (e *evaluator) grow(n int) {
	e.oraLoss = grow(e.oraLoss, n)
}

// lossGrad writes, for m examples x with labels y, the gradient of loss l
// w.r.t. each input, the logits, and the loss value computed from the
// logits in float64 (so that it ranks iterates the same way whether they
// came from LossGrad or Logits). With targets t (nil: untargeted) it is the
// targeted loss (see lossValue): targeted CE and CW are the oracle's losses
// for label t, negated. DLR costs one VJP call.
func (e *evaluator) lossGrad(l Loss, x []float32, y, t []int64, m int, grad, logits []float32, loss []float64) error {
	k := e.k
	e.grow(m)
	switch l {
	case LossCE, LossCW:
		labels := y
		if t != nil {
			labels = t
		}
		if err := e.o.LossGrad(l, x, labels, m, e.oraLoss[:m], grad, logits); err != nil {
			return fmt.Errorf("attack: %s loss gradient: %w", l, err)
		}
		if t != nil {
			for i, v := range grad[:m*e.d] {
				grad[i] = -v
			}
		}
	case LossDLR:
		err := e.o.VJP(x, m, func(i int, z, c []float32) {
			if t != nil {
				dlrTargetedLoss(z, int(y[i]), int(t[i]), c)
			} else {
				dlrLoss(z, int(y[i]), c)
			}
		}, grad, logits)
		if err != nil {
			return fmt.Errorf("attack: dlr vector-Jacobian product: %w", err)
		}
	default:
		return fmt.Errorf("attack: unknown loss %q", l)
	}
	if err := checkFinite(logits[:m*k]); err != nil {
		return err
	}
	for i := range m {
		loss[i] = lossValue(l, logits[i*k:(i+1)*k], int(y[i]), target(t, i))
	}
	return nil
}

// logits writes the logits of m examples and their loss l (targeted with
// targets t, unless nil).
func (e *evaluator) logits(l Loss, x []float32, y, t []int64, m int, logits []float32, loss []float64) error {
	if err := callLogits(e.o, x, m, logits); err != nil {
		return err
	}
	for i := range m {
		loss[i] = lossValue(l, logits[i*e.k:(i+1)*e.k], int(y[i]), target(t, i))
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
