package train

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"sgn/shared/classifier"
	"sgn/shared/sgn"
)

// Config is a training run's configuration; it is saved in the checkpoint.
type Config struct {
	Arch        string  `json:"arch"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	Optimizer   string  `json:"optimizer"` // sgd | adam
	LR          float64 `json:"lr"`
	Schedule    string  `json:"schedule"` // see optim.ParseSchedule
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`

	Adv   string  `json:"adv"` // none | fgsm | pgd | trades
	Eps   float64 `json:"eps"`
	Alpha float64 `json:"alpha"`
	Steps int     `json:"steps"`
	Norm  string  `json:"norm"` // linf | l2
	Beta  float64 `json:"beta"` // TRADES
	// EpsWarmup ramps the training eps linearly from 0 over this many epochs.
	EpsWarmup float64 `json:"eps_warmup,omitempty"`

	Val      int    `json:"val"`       // examples held out for per-epoch evaluation
	ValSteps int    `json:"val_steps"` // PGD steps of the per-epoch robust evaluation
	Augment  bool   `json:"augment"`   // random crop and flip (CIFAR-10)
	Seed     uint64 `json:"seed"`

	SGN *sgn.Config `json:"sgn,omitempty"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("epochs %d: want at least 1", c.Epochs)
	case c.Batch <= 0:
		return fmt.Errorf("batch %d: want at least 1", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v: want > 0", c.LR)
	case !slices.Contains([]string{"sgd", "adam"}, c.Optimizer):
		return fmt.Errorf("optimizer %q (have sgd, adam)", c.Optimizer)
	case !slices.Contains([]string{"none", "fgsm", "pgd", "trades"}, c.Adv):
		return fmt.Errorf("adversarial training %q (have none, fgsm, pgd, trades)", c.Adv)
	case c.Norm != "linf" && c.Norm != "l2":
		return fmt.Errorf("norm %q (have linf, l2)", c.Norm)
	case c.Eps < 0 || math.IsNaN(c.Eps):
		return fmt.Errorf("eps %v: want >= 0", c.Eps)
	case c.Alpha < 0 || math.IsNaN(c.Alpha):
		return fmt.Errorf("alpha %v: want >= 0", c.Alpha)
	case (c.Adv == "pgd" || c.Adv == "trades") && c.Steps <= 0:
		return fmt.Errorf("-adv %s needs -steps >= 1", c.Adv)
	case c.Adv == "trades" && c.Norm != "linf":
		return fmt.Errorf("-adv trades supports -norm linf only")
	case c.EpsWarmup < 0 || math.IsNaN(c.EpsWarmup):
		return fmt.Errorf("eps warm-up %v: want >= 0 epochs", c.EpsWarmup)
	case c.Val < 0:
		return fmt.Errorf("val %d: want >= 0", c.Val)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("momentum %v: want [0,1)", c.Momentum)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight decay %v: want >= 0", c.WeightDecay)
	}
	return nil
}

// Defaults for the settings whose best value does not depend on the data.
const (
	sgdMomentum     = 0.9
	sgdWeightDecay  = 5e-4
	defaultBeta     = 6
	defaultValSteps = 20
)

// Defaults fills what the user left unset (zero) with values that work for
// the dataset at hand: MNIST-like data (one channel) trains a Madry CNN with
// Adam, colour images a CIFAR network with SGD and a one-cycle schedule;
// the budget is the literature's (DefaultEps); step sizes follow Madry et
// al. and Wong et al. Momentum and weight decay, for which zero is a
// setting, are left as they are (see optimizerDefaults).
func (c *Config) Defaults(channels int) {
	gray := channels == 1
	if c.Arch == "" {
		c.Arch = map[bool]string{true: "madry-mnist", false: "cifar-cnn"}[gray]
	}
	if c.Optimizer == "" {
		c.Optimizer = map[bool]string{true: "adam", false: "sgd"}[gray]
	}
	if c.LR == 0 {
		c.LR = map[string]float64{"adam": 1e-3, "sgd": 0.05}[c.Optimizer]
	}
	if c.Schedule == "" {
		c.Schedule = map[string]string{"adam": "constant", "sgd": "cyclic"}[c.Optimizer]
	}
	if c.Norm == "" {
		c.Norm = "linf"
	}
	if c.Eps == 0 {
		c.Eps = DefaultEps(channels, c.Norm)
	}
	if c.Steps == 0 {
		switch c.Adv {
		case "pgd", "trades":
			if gray {
				c.Steps = 40
			} else {
				c.Steps = 10
			}
		}
	}
	if c.Alpha == 0 {
		switch c.Adv {
		case "fgsm":
			c.Alpha = 1.25 * c.Eps // "Fast is better than free"
		case "pgd", "trades":
			c.Alpha = 2.5 * c.Eps / float64(max(c.Steps, 1))
		default:
			c.Alpha = 2.5 * c.Eps / 10
		}
	}
	if c.Beta == 0 {
		c.Beta = defaultBeta
	}
	if c.ValSteps == 0 {
		c.ValSteps = defaultValSteps
	}
}

// optimizerDefaults returns the momentum and weight decay that suit
// optimizer: SGD's usual 0.9 and 5e-4, and none for Adam.
func optimizerDefaults(optimizer string) (momentum, weightDecay float64) {
	if optimizer == "sgd" {
		return sgdMomentum, sgdWeightDecay
	}
	return 0, 0
}

// DefaultEps is the literature's budget for images of the given channels
// under norm: L-inf 0.3 for one channel (MNIST), 8/255 for colour
// (CIFAR-10); L2 2 and 0.5; L1 10 and 12 (RobustBench's for CIFAR-10).
func DefaultEps(channels int, norm string) float64 {
	gray := channels == 1
	switch {
	case norm == "l1" && gray:
		return 10
	case norm == "l1":
		return 12
	case norm == "l2" && gray:
		return 2
	case norm == "l2":
		return 0.5
	case gray:
		return 0.3
	}
	return 8.0 / 255
}

// AttackEps is the budget attacks on cls use when none is given: the one
// it was trained with adversarially under norm, as its training record
// says, else DefaultEps for its input.
func AttackEps(cls *classifier.Classifier, norm string) float64 {
	var s saved
	if json.Unmarshal(cls.Train, &s) == nil && s.Config.Adv != "none" && s.Config.Eps > 0 && s.Config.Norm == norm {
		return s.Config.Eps
	}
	return DefaultEps(cls.Net.Config.InShape[0], norm)
}
