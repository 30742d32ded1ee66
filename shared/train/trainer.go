package train

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/augment"
	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/engine"
	"sgn/shared/examples"
	"sgn/shared/model"
	"sgn/shared/optim"
	"sgn/shared/rng"
	"sgn/shared/sgn"
)

// Data is a training set held in memory: the stream's header and all its
// examples in one batch.
type Data struct {
	Header   stream.Header
	Examples *stream.Batch
	// Name says where the examples came from (a file, "stdin") in
	// messages about them.
	Name string
}

// name is how messages refer to the examples.
func (d Data) name() string {
	if d.Name == "" {
		return "examples"
	}
	return d.Name
}

// Progress is where a run stands; it is saved in every checkpoint.
type Progress struct {
	Epoch   int     `json:"epoch"`   // epochs completed
	Batch   int     `json:"batch"`   // batches completed in the current epoch
	Step    int     `json:"step"`    // optimiser steps taken
	Seconds float64 `json:"seconds"` // training wall time so far
	Done    bool    `json:"done"`
	// The current epoch's sums so far, so that an epoch resumed part-way
	// (or resumed once complete) reports on all its batches. Checkpoints
	// written before they were recorded lack them.
	EpochExamples int     `json:"epoch_examples,omitempty"`
	EpochLoss     float64 `json:"epoch_loss_sum,omitempty"`
	EpochCorrect  float64 `json:"epoch_correct,omitempty"`
	EpochSeconds  float64 `json:"epoch_seconds,omitempty"`
}

// saved is the "train" part of a checkpoint's configuration.
type saved struct {
	Config   Config   `json:"config"`
	Progress Progress `json:"progress"`
	Classes  []string `json:"classes,omitempty"`
	Dataset  string   `json:"dataset,omitempty"`
	// Examples and Digest (CRC-32C of the images and labels) identify the
	// training data, so a resumed run refuses other data: its shuffles and
	// its place in the epoch assume the same examples. Checkpoints written
	// before they were recorded resume without the check.
	Examples int    `json:"examples,omitempty"`
	Digest   uint32 `json:"data_crc32c,omitempty"`
}

// Record is one epoch's line in the training log.
type Record struct {
	Epoch        int      `json:"epoch"`
	Step         int      `json:"step"`
	LR           float64  `json:"lr"`
	TrainLoss    float64  `json:"train_loss"`
	TrainAcc     float64  `json:"train_accuracy"` // on the examples trained on (adversarial ones when -adv is set)
	ValClean     *float64 `json:"val_clean_accuracy,omitempty"`
	ValPGD       *float64 `json:"val_pgd_accuracy,omitempty"`
	EpochSeconds float64  `json:"epoch_seconds"`
	StepMillis   float64  `json:"step_ms"`
	WallSeconds  float64  `json:"wall_seconds"` // cumulative training time, for convergence plots
	// TrainExamples is how many examples TrainLoss and TrainAcc are over:
	// 0 for an epoch finished before a resume from a checkpoint that did
	// not record its sums.
	TrainExamples int `json:"train_examples"`
}

// Hooks let the caller watch and persist a run.
type Hooks struct {
	// Batch is called after every optimiser step (progress bars).
	Batch func(epoch, batch, batches int, loss float64)
	// Epoch is called with each finished epoch's record.
	Epoch func(Record) error
	// Save persists a snapshot of the run; it is called at the end of every
	// epoch and when the run is interrupted.
	Save func(*classifier.Classifier) error
	// Every, when positive, makes Run call Snapshot after every Every
	// optimiser steps (counted over the whole run, the last step excepted:
	// Save has that one) with a snapshot of the run as it stands: the
	// points of a convergence curve.
	Every    int
	Snapshot func(step int, snap *classifier.Classifier) error
}

// ErrDiverged is returned when the loss or a gradient stops being finite;
// the last snapshot given to Hooks.Save is the last good one.
var ErrDiverged = errors.New("training diverged")

// Trainer is a training run.
type Trainer struct {
	cfg      Config
	data     Data
	cls      *classifier.Classifier
	forward  engine.ForwardFunc
	opt      optim.Optimizer
	sched    optim.Schedule
	noise    *rng.RNG // attack starts, augmentation
	progress Progress

	trainIdx, valIdx []int
	step             *engine.Program // training step (plain CE or TRADES)
	attacker         *engine.Oracle  // training-mode oracle for crafting examples
	evaluator        *engine.Oracle  // evaluation-mode oracle for validation
	trades           *tradesAttack

	x, xadv, aug []float32
	advWork      attack.Workspace // the buffers of the FGSM and PGD attacks of adversarial()
	labels       []int64
}

// New starts a run from scratch on data. Errors about the data, and about
// the network it makes (its shape and classes decide its size), name it.
func New(cfg Config, data Data) (*Trainer, error) {
	if err := checkData(data); err != nil {
		return nil, err
	}
	cfg.Defaults(data.Header.Shape[0])
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mcfg, err := modelConfig(cfg, data.Header, data.name())
	if err != nil {
		return nil, err
	}
	net, err := model.New(mcfg, rng.New(cfg.Seed).Split("init").Rand())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", data.name(), err)
	}
	if cfg.SGN != nil {
		if err := sgn.Wrap(net, *cfg.SGN); err != nil {
			return nil, err
		}
	}
	cls := &classifier.Classifier{Net: net, SGN: cfg.SGN}
	t := &Trainer{cfg: cfg, data: data, cls: cls, noise: rng.New(cfg.Seed).Split("noise")}
	if err := t.setup(); err != nil {
		return nil, err
	}
	return t, nil
}

// modelConfig returns the network a run of cfg trains on examples of h.
func modelConfig(cfg Config, h stream.Header, name string) (model.Config, error) {
	classes := classNames(h)
	if len(classes) > model.MaxClasses {
		return model.Config{}, fmt.Errorf("%s: metadata %s names %d classes, more than the %d a model may have", name, stream.MetaClasses, len(classes), model.MaxClasses)
	}
	mcfg := model.Config{Arch: cfg.Arch, InShape: h.Shape, Classes: len(classes)}
	mcfg.Mean, mcfg.Std = normalisation(h.Shape[0])
	return mcfg, nil
}

// CheckModel checks, from the header of the examples named name alone,
// that the network a new run of cfg would build for them can be built and
// fits the bounds on model size, so that a tool can refuse a stream of
// huge images before reading its examples. New makes the same checks.
func CheckModel(cfg Config, h stream.Header, name string) error {
	if len(h.Shape) != 3 {
		return nil // New names the shape, with the examples read
	}
	cfg.Defaults(h.Shape[0])
	mcfg, err := modelConfig(cfg, h, name)
	if err != nil {
		return err
	}
	if err := mcfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Resume continues the run saved in cls on the same data.
func Resume(cls *classifier.Classifier, data Data) (*Trainer, error) {
	if err := checkData(data); err != nil {
		return nil, err
	}
	var s saved
	if len(cls.Train) == 0 {
		return nil, fmt.Errorf("resume: checkpoint has no training record")
	}
	if err := json.Unmarshal(cls.Train, &s); err != nil {
		return nil, fmt.Errorf("resume: training record: %w", err)
	}
	if err := s.Config.Validate(); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	// The run continues on the same kind of examples only.
	if want := cls.Net.Config.InShape; !slices.Equal(data.Header.Shape, want) {
		return nil, fmt.Errorf("resume: %s has images of shape %v, the checkpoint's model takes %v", data.name(), data.Header.Shape, want)
	}
	if k := len(classNames(data.Header)); k != cls.Net.Config.Classes {
		return nil, fmt.Errorf("resume: %s has %d classes, the checkpoint's model %d", data.name(), k, cls.Net.Config.Classes)
	}
	if n := data.Examples.Len(); s.Examples != 0 && (n != s.Examples || dataDigest(data.Examples) != s.Digest) {
		return nil, fmt.Errorf("resume: %s (%d examples) is not the data the run was trained on (%d examples): resume with the same stream", data.name(), n, s.Examples)
	}
	t := &Trainer{cfg: s.Config, data: data, cls: cls, progress: s.Progress, noise: rng.New(s.Config.Seed).Split("noise")}
	if err := t.setup(); err != nil {
		return nil, err
	}
	if err := t.checkProgress(s.Examples != 0); err != nil {
		t.Close()
		return nil, fmt.Errorf("resume: %w", err)
	}
	if err := t.noise.UnmarshalBinary(cls.Sections["rng"]); err != nil {
		t.Close()
		return nil, fmt.Errorf("resume: rng state: %w", err)
	}
	if err := t.opt.UnmarshalBinary(cls.Sections["optimizer"]); err != nil {
		t.Close()
		return nil, fmt.Errorf("resume: optimizer state: %w", err)
	}
	return t, nil
}

// checkProgress refuses a saved progress that this run cannot continue
// from: negative counts, an epoch beyond the run or a batch beyond the
// epoch. sameData says the data is known to be the run's own, so that the
// steps must be the batches done so far.
func (t *Trainer) checkProgress(sameData bool) error {
	p, batches := t.progress, t.Batches()
	switch {
	case p.Epoch < 0 || p.Batch < 0 || p.Step < 0 || p.EpochExamples < 0 || !(p.Seconds >= 0) || math.IsInf(p.Seconds, 0):
		return fmt.Errorf("the training progress (epoch %d, batch %d, step %d, %v s) has a negative or non-finite count", p.Epoch, p.Batch, p.Step, p.Seconds)
	case p.Epoch > t.cfg.Epochs || p.Epoch == t.cfg.Epochs && p.Batch > 0:
		return fmt.Errorf("the training progress is at epoch %d, batch %d of a %d-epoch run", p.Epoch, p.Batch, t.cfg.Epochs)
	case p.Batch > batches:
		return fmt.Errorf("the training progress is at batch %d of an epoch of %d batches", p.Batch, batches)
	case sameData && p.Step != p.Epoch*batches+p.Batch:
		return fmt.Errorf("the training progress counts %d steps, but %d epochs of %d batches and %d batches make %d", p.Step, p.Epoch, batches, p.Batch, p.Epoch*batches+p.Batch)
	case p.EpochExamples > p.Batch*t.cfg.Batch:
		return fmt.Errorf("the training progress counts %d examples in %d batches of %d", p.EpochExamples, p.Batch, t.cfg.Batch)
	}
	return nil
}

// Extend sets the run's length to epochs: longer, even for a finished
// run, or shorter down to the epochs already done when the run stands at
// the end of one. A schedule that depends on the run's length (cosine,
// cyclic, step) is recomputed for the new length, so the learning rate
// changes at once.
func (t *Trainer) Extend(epochs int) error {
	p := t.progress
	if epochs < max(p.Epoch, 1) || (epochs == p.Epoch && p.Batch > 0) {
		return fmt.Errorf("cannot shorten the run to %s: %s and %s are done", cli.Count(epochs, "epoch"), cli.Count(p.Epoch, "epoch"), cli.Count(p.Batch, "batch/batches"))
	}
	t.cfg.Epochs = epochs
	t.progress.Done = p.Epoch == epochs
	return nil
}

// dataDigest is the CRC-32C of a training set's images and labels.
func dataDigest(b *stream.Batch) uint32 {
	tab := crc32.MakeTable(crc32.Castagnoli)
	h := crc32.New(tab)
	h.Write(b.Pixels)
	buf := make([]byte, 0, 4096)
	flush := func() { h.Write(buf); buf = buf[:0] }
	for _, v := range b.Floats {
		if len(buf)+4 > cap(buf) {
			flush()
		}
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	for _, l := range b.Labels {
		if len(buf)+8 > cap(buf) {
			flush()
		}
		buf = binary.LittleEndian.AppendUint64(buf, uint64(l))
	}
	flush()
	return h.Sum32()
}

// Config returns the run's configuration with defaults filled in.
func (t *Trainer) Config() Config { return t.cfg }

// Progress returns where the run stands.
func (t *Trainer) Progress() Progress { return t.progress }

// Batches is the number of optimiser steps per epoch.
func (t *Trainer) Batches() int { return len(t.trainIdx) / t.cfg.Batch }

// checkData checks the training examples as every tool checks examples
// (package examples): images C,H,W, labels among the classes the stream
// declares, pixels in [0,1].
func checkData(d Data) error {
	h := d.Header
	if len(h.Shape) != 3 {
		return fmt.Errorf("%s: images have shape %v: want C,H,W", d.name(), h.Shape)
	}
	if d.Examples == nil || d.Examples.Len() == 0 {
		return fmt.Errorf("%s: no training examples", d.name())
	}
	if err := examples.CheckLabels(d.Examples.Labels, 0, len(classNames(h))); err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	if err := examples.CheckBatch(h, d.Examples, 0); err != nil {
		return fmt.Errorf("%s: %w", d.name(), err)
	}
	return nil
}

// classNames returns the class names the stream's metadata declares, or
// "0".."9" when it declares none.
func classNames(h stream.Header) []string {
	var names []string
	if s, ok := h.Metadata[stream.MetaClasses]; ok && json.Unmarshal([]byte(s), &names) == nil && len(names) >= 2 {
		return names
	}
	names = make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	return names
}

// normalisation returns the per-channel mean and std a network divides its
// inputs by: MNIST's for one channel, CIFAR-10's for three, 0.5 otherwise.
func normalisation(channels int) (mean, std []float32) {
	switch channels {
	case 1:
		return []float32{0.1307}, []float32{0.3081}
	case 3:
		return []float32{0.4914, 0.4822, 0.4465}, []float32{0.2471, 0.2435, 0.2616}
	}
	mean, std = make([]float32, channels), make([]float32, channels)
	for i := range mean {
		mean[i], std[i] = 0.5, 0.5
	}
	return mean, std
}

func (t *Trainer) setup() error {
	n := t.data.Examples.Len()
	if t.cfg.Val >= n {
		return fmt.Errorf("%s: -val %d holds out all %d examples", t.data.name(), t.cfg.Val, n)
	}
	perm := rng.Permutation(rng.New(t.cfg.Seed).Split("validation"), n, nil)
	t.valIdx, t.trainIdx = perm[:t.cfg.Val], perm[t.cfg.Val:]
	if len(t.trainIdx) < t.cfg.Batch {
		return fmt.Errorf("%s: %d training examples are fewer than one batch of %d", t.data.name(), len(t.trainIdx), t.cfg.Batch)
	}
	if t.cls.SGN != nil {
		t.forward = sgn.Forward(*t.cls.SGN)
	} else {
		t.forward = engine.PlainForward
	}
	params := t.cls.Net.Trainable()
	sizes, decay := make([]int, len(params)), make([]bool, len(params))
	for i, p := range params {
		sizes[i], decay[i] = len(p.Data), p.Decay
	}
	switch t.cfg.Optimizer {
	case "sgd":
		t.opt = optim.NewSGD(sizes, optim.WithMomentum(t.cfg.Momentum), optim.WithWeightDecay(t.cfg.WeightDecay), optim.WithDecayMask(decay))
	case "adam":
		t.opt = optim.NewAdam(sizes, optim.WithWeightDecay(t.cfg.WeightDecay), optim.WithDecayMask(decay))
	}
	var err error
	if t.sched, err = optim.ParseSchedule(t.cfg.Schedule, t.cfg.LR); err != nil {
		return err
	}
	batch := t.cfg.Batch
	if t.cfg.Adv == "trades" {
		t.step, err = engine.NewTradesStep(t.cls.Net, batch, t.cfg.Beta, engine.WithForward(t.forward))
	} else {
		t.step, err = engine.NewTrainStep(t.cls.Net, batch, engine.CrossEntropy, engine.WithForward(t.forward))
	}
	if err != nil {
		return fmt.Errorf("build training step: %w", err)
	}
	t.attacker = engine.NewOracle(t.cls.Net, batch, engine.WithForward(t.forward), engine.WithTrainMode())
	t.evaluator = engine.NewOracle(t.cls.Net, batch, engine.WithForward(t.forward))
	d := t.data.Header.ExampleSize()
	t.x, t.xadv, t.aug = make([]float32, batch*d), make([]float32, batch*d), make([]float32, batch*d)
	t.labels = make([]int64, batch)
	return nil
}

// Close releases the compiled programs.
func (t *Trainer) Close() error {
	t.step.Close()
	t.attacker.Close()
	t.evaluator.Close()
	if t.trades != nil {
		t.trades.close()
	}
	return nil
}

// Snapshot returns the run as a classifier holding the weights, the
// training record, the optimiser state and the RNG state.
func (t *Trainer) Snapshot() (*classifier.Classifier, error) {
	s := saved{Config: t.cfg, Progress: t.progress, Classes: classNames(t.data.Header), Dataset: t.data.Header.Metadata[stream.MetaDataset],
		Examples: t.data.Examples.Len(), Digest: dataDigest(t.data.Examples)}
	rec, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	opt, err := t.opt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	r, err := t.noise.MarshalBinary()
	if err != nil {
		return nil, err
	}
	// Copy the weights: the snapshot must not change as training goes on.
	net := &model.Net{Config: t.cls.Net.Config}
	for _, p := range t.cls.Net.Params {
		c := *p
		c.Data = append([]float32(nil), p.Data...)
		net.Params = append(net.Params, &c)
	}
	return &classifier.Classifier{Net: net, SGN: t.cls.SGN, Train: rec, Sections: map[string][]byte{"optimizer": opt, "rng": r}}, nil
}

// Run trains until the configured number of epochs is done or ctx is
// cancelled; on cancellation it saves a snapshot at the end of the current
// batch and returns an error wrapping context.Cause(ctx).
func (t *Trainer) Run(ctx context.Context, h Hooks) error {
	save := func() error {
		if h.Save == nil {
			return nil
		}
		snap, err := t.Snapshot()
		if err != nil {
			return err
		}
		return h.Save(snap)
	}
	batches := t.Batches()
	total := batches * t.cfg.Epochs
	var order []int
	for t.progress.Epoch < t.cfg.Epochs {
		epoch := t.progress.Epoch
		order = rng.Permutation(rng.New(t.cfg.Seed).Split(fmt.Sprintf("epoch %d", epoch)), len(t.trainIdx), order)
		for t.progress.Batch < batches {
			b := t.progress.Batch
			lr := t.sched.LR(t.progress.Step, total)
			start := time.Now()
			loss, acc, err := t.trainBatch(order[b*t.cfg.Batch:(b+1)*t.cfg.Batch], lr)
			if err != nil {
				return err
			}
			// Training time is counted batch by batch, so that a snapshot
			// taken mid-epoch carries the time it took to get there and
			// the time spent saving snapshots is not counted.
			took := time.Since(start).Seconds()
			p := &t.progress
			p.Seconds += took
			p.EpochSeconds += took
			p.EpochLoss += loss * float64(t.cfg.Batch)
			p.EpochCorrect += acc * float64(t.cfg.Batch)
			p.EpochExamples += t.cfg.Batch
			p.Batch++
			p.Step++
			if h.Batch != nil {
				h.Batch(epoch, t.progress.Batch, batches, loss)
			}
			// The last step's snapshot would be the final checkpoint again.
			if h.Every > 0 && h.Snapshot != nil && t.progress.Step%h.Every == 0 && t.progress.Step < total {
				snap, err := t.Snapshot()
				if err != nil {
					return err
				}
				if err := h.Snapshot(t.progress.Step, snap); err != nil {
					return fmt.Errorf("snapshot at step %d: %w", t.progress.Step, err)
				}
			}
			if ctx.Err() != nil {
				if err := save(); err != nil {
					return fmt.Errorf("save on interrupt: %w", err)
				}
				return fmt.Errorf("%w in epoch %d after batch %d; checkpoint saved", context.Cause(ctx), epoch+1, t.progress.Batch)
			}
		}
		p := &t.progress
		rec := Record{Epoch: p.Epoch + 1, Step: p.Step, LR: t.sched.LR(max(p.Step-1, 0), total), EpochSeconds: p.EpochSeconds, WallSeconds: p.Seconds}
		if n := p.EpochExamples; n > 0 {
			rec.TrainLoss, rec.TrainAcc, rec.TrainExamples = p.EpochLoss/float64(n), p.EpochCorrect/float64(n), n
			rec.StepMillis = p.EpochSeconds * 1000 / float64(n/t.cfg.Batch)
		}
		p.Epoch++
		p.Batch = 0
		p.EpochExamples, p.EpochLoss, p.EpochCorrect, p.EpochSeconds = 0, 0, 0, 0
		if len(t.valIdx) > 0 {
			clean, robust, err := t.validate()
			if err != nil {
				return fmt.Errorf("validation: %w", err)
			}
			rec.ValClean, rec.ValPGD = &clean, &robust
		}
		t.progress.Done = t.progress.Epoch == t.cfg.Epochs
		if err := save(); err != nil {
			return fmt.Errorf("save after epoch %d: %w", t.progress.Epoch, err)
		}
		if h.Epoch != nil {
			if err := h.Epoch(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// gather copies the examples idx into x and labels, with the pixels
// times the stream's sgn.pixel_scale, bytes and float32 alike, as every
// reader of examples scales them, so that x is in [0,1].
func (t *Trainer) gather(idx []int, x []float32, labels []int64) {
	h, ex := t.data.Header, t.data.Examples
	d := h.ExampleSize()
	scale := h.Scale()
	for i, j := range idx {
		dst := x[i*d : (i+1)*d]
		if ex.Pixels != nil {
			for k, v := range ex.Pixels[j*d : (j+1)*d] {
				dst[k] = float32(v) * scale
			}
		} else {
			for k, v := range ex.Floats[j*d : (j+1)*d] {
				dst[k] = v * scale
			}
		}
		labels[i] = ex.Labels[j]
	}
}

func (t *Trainer) trainBatch(idx []int, lr float64) (loss, acc float64, err error) {
	t.gather(idx, t.x, t.labels)
	if t.cfg.Augment {
		s := t.data.Header.Shape
		augment.RandomCropFlip(t.aug, t.x, len(idx), s[0], s[1], s[2], 4, true, t.noise.Rand())
		copy(t.x, t.aug)
	}
	input, err := t.adversarial()
	if err != nil {
		return 0, 0, err
	}
	p := t.step
	if t.cfg.Adv == "trades" {
		if err := p.Set("xadv", input); err != nil {
			return 0, 0, err
		}
		input = t.x
	}
	if err := p.Set("x", input); err != nil {
		return 0, 0, err
	}
	if err := p.SetLabels(t.labels); err != nil {
		return 0, 0, err
	}
	if err := p.Run(); err != nil {
		return 0, 0, err
	}
	lv, err := p.Output("loss")
	if err != nil {
		return 0, 0, err
	}
	loss = float64(lv[0])
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("%w: loss is %v at step %d", ErrDiverged, loss, t.progress.Step+1)
	}
	logitsName := "logits"
	if t.cfg.Adv == "trades" {
		logitsName = "adv_logits"
	}
	logits, err := p.Output(logitsName)
	if err != nil {
		return 0, 0, err
	}
	acc = accuracy(logits, t.labels, t.cls.Net.Config.Classes)
	grads, err := p.ParamGrads()
	if err != nil {
		return 0, 0, err
	}
	params := t.cls.Net.Trainable()
	data := make([][]float32, len(params))
	for i, q := range params {
		data[i] = q.Data
	}
	if err := t.opt.Step(data, grads, lr); err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrDiverged, err)
	}
	if err := p.UpdateRunningStats(); err != nil {
		return 0, 0, err
	}
	return loss, acc, nil
}

// accuracy is the fraction of rows of logits whose argmax is the label.
func accuracy(logits []float32, labels []int64, k int) float64 {
	correct := 0
	for i, l := range labels {
		if attack.Predict(logits[i*k:(i+1)*k]) == int(l) {
			correct++
		}
	}
	return float64(correct) / float64(len(labels))
}
