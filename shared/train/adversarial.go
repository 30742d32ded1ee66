package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"sgn/shared/attack"
	"sgn/shared/engine"
)

// adversarial returns the batch the step trains on: t.x itself, or
// adversarial examples crafted against the current weights.
func (t *Trainer) adversarial() ([]float32, error) {
	n := len(t.labels)
	c := t.cfg
	scale := t.epsScale()
	c.Eps, c.Alpha = c.Eps*scale, c.Alpha*scale
	if c.Adv != "none" && c.Eps == 0 {
		return t.x, nil
	}
	// Both attacks write into t.xadv through buffers kept in t.advWork, so
	// that a step allocates nothing for them.
	var a interface {
		Perturb(ws *attack.Workspace, xadv []float32, o attack.Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) error
	}
	switch c.Adv {
	case "none":
		return t.x, nil
	case "fgsm":
		a = attack.FGSM{Norm: attack.Norm(c.Norm), Eps: c.Eps, Alpha: c.Alpha, RandomStart: true}
	case "pgd":
		a = attack.PGD{Norm: attack.Norm(c.Norm), Eps: c.Eps, Alpha: c.Alpha, Steps: c.Steps, RandomStart: true, Restarts: 1, Loss: attack.LossCE, LastIterate: true}
	case "trades":
		return t.tradesExamples(c.Eps, c.Alpha)
	default:
		return nil, fmt.Errorf("unknown adversarial training %q", c.Adv)
	}
	if err := a.Perturb(&t.advWork, t.xadv, t.attacker, t.x, t.labels, n, t.noise.Rand()); err != nil {
		return nil, fmt.Errorf("craft %s examples: %w", c.Adv, err)
	}
	return t.xadv, nil
}

// validate returns clean and PGD accuracy on the held-out examples, with the
// model in evaluation mode and PGD of ValSteps steps with a random start.
func (t *Trainer) validate() (clean, robust float64, err error) {
	n := len(t.valIdx)
	d, k := t.data.Header.ExampleSize(), t.cls.Net.Config.Classes
	x, labels := make([]float32, n*d), make([]int64, n)
	t.gather(t.valIdx, x, labels)
	logits := make([]float32, n*k)
	if err := t.evaluator.Logits(x, n, logits); err != nil {
		return 0, 0, err
	}
	clean = accuracy(logits, labels, k)
	steps := t.cfg.ValSteps
	pgd := attack.PGD{Norm: attack.Norm(t.cfg.Norm), Eps: t.cfg.Eps, Alpha: 2.5 * t.cfg.Eps / float64(steps), Steps: steps, RandomStart: true, Restarts: 1, Loss: attack.LossCE}
	// The validation attack draws from its own stream so that adding or
	// removing -val does not change the training run.
	xadv, err := pgd.Run(t.evaluator, x, labels, n, t.noise.Split("validation attack").Rand())
	if err != nil {
		return 0, 0, err
	}
	if err := t.evaluator.Logits(xadv, n, logits); err != nil {
		return 0, 0, err
	}
	return clean, accuracy(logits, labels, k), nil
}

// tradesAttack crafts TRADES's inner maximisation: PGD-linf on
// KL(f(x) || f(x')) from a small Gaussian start, as in Zhang et al. (2019).
type tradesAttack struct {
	logits *engine.Program // clean probabilities P = softmax f(x)
	grad   *engine.Program // gradient of CE(f(x'), P) = KL + const w.r.t. x'
	prob   []float32
}

func (ta *tradesAttack) close() {
	ta.logits.Close()
	ta.grad.Close()
}

// epsScale is the fraction of eps in force at the current step: it ramps
// linearly from 0 to 1 over the first EpsWarmup epochs (a common way to get
// adversarial training at a large eps, such as MNIST's 0.3, off the ground).
func (t *Trainer) epsScale() float64 {
	if t.cfg.EpsWarmup <= 0 {
		return 1
	}
	warm := t.cfg.EpsWarmup * float64(t.Batches())
	return min(1, float64(t.progress.Step+1)/warm)
}

func (t *Trainer) tradesExamples(epsilon, stepSize float64) ([]float32, error) {
	if t.trades == nil {
		lp, err := engine.NewLogits(t.cls.Net, t.cfg.Batch, engine.WithForward(t.forward))
		if err != nil {
			return nil, err
		}
		gp, err := engine.NewInputGrad(t.cls.Net, t.cfg.Batch, engine.CrossEntropy, engine.WithForward(t.forward))
		if err != nil {
			return nil, err
		}
		t.trades = &tradesAttack{logits: lp, grad: gp}
	}
	ta := t.trades
	k := t.cls.Net.Config.Classes
	if err := ta.logits.Set("x", t.x); err != nil {
		return nil, err
	}
	if err := ta.logits.Run(); err != nil {
		return nil, err
	}
	z, err := ta.logits.Output("logits")
	if err != nil {
		return nil, err
	}
	ta.prob = softmaxRows(ta.prob, z, k)
	if err := ta.grad.Set("y", ta.prob); err != nil {
		return nil, err
	}
	r := t.noise.Rand()
	eps, alpha := float32(epsilon), float32(stepSize)
	for i, v := range t.x {
		t.xadv[i] = clamp(v+0.001*float32(r.NormFloat64()), v-eps, v+eps)
	}
	for s := 0; s < t.cfg.Steps; s++ {
		if err := ta.grad.Set("x", t.xadv); err != nil {
			return nil, err
		}
		if err := ta.grad.Run(); err != nil {
			return nil, err
		}
		g, err := ta.grad.Output("grad")
		if err != nil {
			return nil, err
		}
		for i, v := range t.xadv {
			step := float32(0)
			if g[i] > 0 {
				step = alpha
			} else if g[i] < 0 {
				step = -alpha
			}
			t.xadv[i] = clamp(v+step, t.x[i]-eps, t.x[i]+eps)
		}
	}
	return t.xadv, nil
}

// clamp limits v to [lo,hi] and to the pixel range [0,1].
func clamp(v, lo, hi float32) float32 {
	lo, hi = max(lo, 0), min(hi, 1)
	return min(max(v, lo), hi)
}

func softmaxRows(dst, z []float32, k int) []float32 {
	dst = append(dst[:0], z...)
	for i := 0; i < len(z)/k; i++ {
		row := dst[i*k : (i+1)*k]
		m := row[attack.Predict(row)]
		var sum float64
		for j, v := range row {
			e := exp32(v - m)
			row[j] = e
			sum += float64(e)
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / sum)
		}
	}
	return dst
}

func exp32(v float32) float32 { return float32(math.Exp(float64(v))) }
