// Command crosscheck computes sgn's side of `make crosscheck`: for each
// case of its table (an architecture, plain or wrapped as an SGN, trained
// or random), it writes the model as a checkpoint and, in a safetensors
// file, the inputs and what sgn computes from them: logits, the loss's
// input gradient, self-gradients, one training step's parameter gradients
// and running statistics, and deterministic L-inf and L2 PGD attacks with
// the point and gradient of each of their steps.
// pipelines/torch/crosscheck.py computes the same in PyTorch and compares.
//
//	crosscheck cases -mnist TEST.arrows [-trained NAME=FILE,...] -o DIR
//	crosscheck examples IN.arrows OUT.safetensors
//	crosscheck selfgrads GRADS.arrows OUT.safetensors
//
// For an SGN, cases also writes the inputs as an example stream,
// CASE.x.arrows, for sgn-grad. examples converts an example stream to
// images (F32, pixels in [0, 1]) and labels (I64) for PyTorch, which has no
// Arrow reader here; selfgrads takes the self-gradient columns of
// sgn-grad's output (selfgrad.TAP) into tensors sgn-grad.selfgrad.TAP.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sgn/format/safetensors"
	"sgn/format/stream"
	"sgn/shared/attack"
	"sgn/shared/classifier"
	"sgn/shared/convert"
	"sgn/shared/engine"
	"sgn/shared/model"
	"sgn/shared/sgn"
)

// A testCase is a model and the data it is checked on.
type testCase struct {
	name    string
	arch    string      // random weights of this architecture, or
	trained string      // the -trained model of this name
	sgn     *sgn.Config // wrap as an SGN (a trained SGN keeps its own)
	cifar   bool        // CIFAR-shaped inputs instead of MNIST's
	batch   int
}

// cases cover the four architectures, plain and as SGNs at the input and
// at inner taps, and every SGN option: phi, learned and fixed gates, the
// true or predicted self-label, exact and detached gradients, a probe loss.
// preact-resnet18 runs on 4 images: its float64 second derivatives in
// PyTorch are the slowest part of the table.
var cases = []testCase{
	{name: "mlp", arch: "mlp", batch: 32},
	{name: "mlp-sgn", arch: "mlp", sgn: &sgn.Config{Taps: []string{"input", "fc1"}, Phi: "identity", Label: "true", Grad: "exact", Gate: "learned", GateBound: 0.3, ProbeWeight: 0.5}, batch: 32},
	{name: "madry-mnist", trained: "madry", batch: 32},
	{name: "madry-mnist-sgn-input", trained: "madry-sgn", batch: 32},
	{name: "madry-mnist-sgn-conv1", trained: "madry", sgn: &sgn.Config{Taps: []string{"conv1"}, Phi: "l2", Label: "true", Grad: "detached", Gate: "-0.5"}, batch: 32},
	{name: "madry-mnist-sgn-fc1", trained: "madry", sgn: &sgn.Config{Taps: []string{"fc1"}, Phi: "sign", Label: "pred", Grad: "exact", Gate: "learned", GateBound: 0.3}, batch: 32},
	{name: "cifar-cnn", arch: "cifar-cnn", cifar: true, batch: 16},
	{name: "cifar-cnn-sgn", arch: "cifar-cnn", cifar: true, sgn: &sgn.Config{Taps: []string{"input", "block2"}, Phi: "sign", Label: "pred", Grad: "exact", Gate: "learned", GateBound: 0.3}, batch: 16},
	{name: "preact-resnet18", arch: "preact-resnet18", cifar: true, batch: 4},
	{name: "preact-resnet18-sgn", arch: "preact-resnet18", cifar: true, sgn: &sgn.Config{Taps: []string{"layer1"}, Phi: "l2", Label: "pred", Grad: "exact", Gate: "learned", GateBound: 0.3}, batch: 4},
}

// pgdSteps is the length of the deterministic attack.
const pgdSteps = 10

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "cases":
		err = runCases(os.Args[2:])
	case "examples":
		if len(os.Args) != 4 {
			usage()
		}
		err = exportExamples(os.Args[2], os.Args[3])
	case "selfgrads":
		if len(os.Args) != 4 {
			usage()
		}
		err = exportSelfGrads(os.Args[2], os.Args[3])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crosscheck:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: crosscheck cases -mnist TEST.arrows [-trained NAME=FILE,...] [-only NAME,...] -o DIR\n       crosscheck examples IN.arrows OUT.safetensors\n       crosscheck selfgrads GRADS.arrows OUT.safetensors")
	os.Exit(2)
}

func runCases(args []string) error {
	fs := flag.NewFlagSet("crosscheck cases", flag.ContinueOnError)
	mnistPath := fs.String("mnist", "", "MNIST example stream `FILE`")
	trainedList := fs.String("trained", "", "trained checkpoints, `NAME=FILE,...`")
	only := fs.String("only", "", "run only these cases, `NAME,...`")
	dir := fs.String("o", "", "output `DIR`")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	if *mnistPath == "" || *dir == "" {
		usage()
	}
	trained := map[string]string{}
	for _, kv := range strings.Split(*trainedList, ",") {
		if name, file, ok := strings.Cut(kv, "="); ok {
			trained[name] = file
		}
	}
	images, labels, err := readExamples(*mnistPath)
	if err != nil {
		return err
	}
	for _, tc := range cases {
		if *only != "" && !strings.Contains(","+*only+",", ","+tc.name+",") {
			continue
		}
		start := time.Now()
		if err := runCase(tc, trained, images, labels, *dir); err != nil {
			return fmt.Errorf("case %s: %w", tc.name, err)
		}
		fmt.Fprintf(os.Stderr, "crosscheck: %s: sgn side in %.1f s\n", tc.name, time.Since(start).Seconds())
	}
	return nil
}

func readExamples(path string) ([]float32, []int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	h, b, err := stream.ReadAll(f, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return h.Float32Images(b, nil), b.Labels, nil
}

func exportExamples(in, out string) error {
	images, labels, err := readExamples(in)
	if err != nil {
		return err
	}
	n := len(labels)
	f := &safetensors.File{Tensors: []safetensors.Tensor{
		safetensors.Float32("images", []int{n, len(images) / max(n, 1)}, images),
		safetensors.Int64("labels", []int{n}, labels),
	}}
	return writeSafetensors(out, f)
}

// exportSelfGrads writes the self-gradient tensor columns of sgn-grad's
// stream in, flattened per example as the expected files hold them.
func exportSelfGrads(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	h, b, err := stream.ReadAll(f, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	sf := &safetensors.File{}
	for i, c := range h.Extra {
		if c.Type != stream.Float32TensorColumn {
			continue
		}
		tap, ok := strings.CutPrefix(c.Name, stream.SelfGradColumn(""))
		if !ok {
			continue
		}
		sf.Tensors = append(sf.Tensors, safetensors.Float32("sgn-grad.selfgrad."+tap, []int{b.Len(), c.Size()}, b.Extra[i].Float32))
	}
	if len(sf.Tensors) == 0 {
		return fmt.Errorf("%s: no self-gradient tensor columns", in)
	}
	return writeSafetensors(out, sf)
}

// writeStream writes images x and labels y as an example stream of
// float32 pixels in [0, 1].
func writeStream(path string, shape []int, x []float32, y []int64) error {
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Shape: shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1"}})
	if err != nil {
		return err
	}
	if err := w.Write(&stream.Batch{Floats: x, Labels: y}); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeSafetensors(path string, f *safetensors.File) error {
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, f); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// mnistConfig and cifarConfig are the random models' configurations, with
// sgn-train's normalisation for the data.
func modelConfig(arch string, cifar bool) model.Config {
	if cifar {
		return model.Config{Arch: arch, InShape: []int{3, 32, 32}, Classes: 10, Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2471, 0.2435, 0.2616}}
	}
	return model.Config{Arch: arch, InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}
}

func runCase(tc testCase, trained map[string]string, mnistX []float32, mnistY []int64, dir string) error {
	rng := rand.New(rand.NewPCG(15, uint64(len(tc.name))))
	// Inputs: the first MNIST test images, or CIFAR-shaped images of
	// random bytes.
	var x []float32
	var y []int64
	if tc.cifar {
		x = make([]float32, tc.batch*3*32*32)
		for i := range x {
			x[i] = float32(rng.IntN(256)) / 255
		}
		y = make([]int64, tc.batch)
		for i := range y {
			y[i] = int64(rng.IntN(10))
		}
	} else {
		if len(mnistY) < tc.batch {
			return fmt.Errorf("%d MNIST examples, need %d", len(mnistY), tc.batch)
		}
		x, y = mnistX[:tc.batch*784], mnistY[:tc.batch]
	}
	cls, err := makeModel(tc, trained, x, rng)
	if err != nil {
		return err
	}
	if err := cls.Save(filepath.Join(dir, tc.name+".sgn")); err != nil {
		return err
	}
	if cls.SGN != nil {
		if err := writeStream(filepath.Join(dir, tc.name+".x.arrows"), cls.Net.Config.InShape, x, y); err != nil {
			return err
		}
	}
	out := &safetensors.File{Metadata: map[string]string{"case": tc.name}}
	add := func(name string, shape []int, v []float32) {
		out.Tensors = append(out.Tensors, safetensors.Float32(name, shape, append([]float32(nil), v...)))
	}
	s := cls.Net.Config.InShape
	n, k := tc.batch, cls.Net.Config.Classes
	xshape := []int{n, s[0], s[1], s[2]}
	add("x", xshape, x)
	out.Tensors = append(out.Tensors, safetensors.Int64("y", []int{n}, y))
	fwd := engine.WithForward(cls.Forward())

	// Logits and self-gradients, inference mode.
	p, err := engine.NewLogits(cls.Net, n, fwd)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := run(p, x, nil); err != nil {
		return err
	}
	if err := output(p, "logits", "logits", []int{n, k}, add); err != nil {
		return err
	}
	if cls.SGN != nil {
		if err := output(p, "probe_logits", "probe_logits", []int{n, k}, add); err != nil {
			return err
		}
		for _, t := range cls.SGN.Taps {
			v, err := p.Output("selfgrad." + t)
			if err != nil {
				return err
			}
			add("selfgrad."+t, []int{n, len(v) / n}, v) // PyTorch compares it flattened
		}
	}

	// The input gradient of the summed cross-entropy.
	g, err := engine.NewInputGrad(cls.Net, n, engine.CrossEntropy, fwd)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := run(g, x, y); err != nil {
		return err
	}
	if err := output(g, "grad", "input_grad", xshape, add); err != nil {
		return err
	}

	// PGD without random start, L-inf and L2, their last iterates with
	// the point and the gradient of each step (recorded from the oracle's
	// calls): PyTorch checks each step from sgn's own iterate, since a
	// gradient component's sign, or a ReLU's or a max-pool's choice,
	// within float32 noise of its switch may go either way, and from there
	// two attacks part.
	eps := map[string]float64{"pgd": 0.3, "pgd_l2": 2}
	if tc.cifar {
		eps = map[string]float64{"pgd": 8.0 / 255, "pgd_l2": 0.5}
	}
	oracle := engine.NewOracle(cls.Net, n, fwd)
	defer oracle.Close()
	for _, key := range []string{"pgd", "pgd_l2"} {
		a := attack.PGD{Norm: attack.Linf, Eps: eps[key], Steps: pgdSteps, LastIterate: true}
		if key == "pgd_l2" {
			a.Norm = attack.L2
		}
		rec := &recorder{Oracle: oracle}
		adv, err := a.Run(rec, x, y, n, rng)
		if err != nil {
			return err
		}
		if len(rec.xs) != pgdSteps {
			return fmt.Errorf("%s made %d gradient calls, want %d", key, len(rec.xs), pgdSteps)
		}
		add(key, xshape, adv)
		for t := range rec.xs {
			add(fmt.Sprintf("%s.x.%d", key, t), xshape, rec.xs[t])
			add(fmt.Sprintf("%s.grad.%d", key, t), xshape, rec.grads[t])
		}
		p := a.Params()
		for _, k := range []string{"norm", "eps", "alpha", "steps"} {
			out.Metadata[key+"."+k] = p[k]
		}
	}

	// One training step: the loss's parameter gradients (second
	// derivatives included for an exact SGN) and the running statistics
	// it leaves, in PyTorch's names and layouts.
	ts, err := engine.NewTrainStep(cls.Net, n, engine.CrossEntropy, fwd)
	if err != nil {
		return err
	}
	defer ts.Close()
	if err := run(ts, x, y); err != nil {
		return err
	}
	if err := output(ts, "loss", "train_loss", []int{}, add); err != nil {
		return err
	}
	grads, err := ts.ParamGrads()
	if err != nil {
		return err
	}
	if err := ts.UpdateRunningStats(); err != nil {
		return err
	}
	step := &classifier.Classifier{Net: &model.Net{Config: cls.Net.Config}, SGN: cls.SGN}
	i := 0
	for _, prm := range cls.Net.Params {
		q := *prm
		if prm.Trainable {
			q.Data = grads[i]
			i++
		}
		step.Net.Params = append(step.Net.Params, &q)
	}
	sf, err := convert.ToSafetensors(step)
	if err != nil {
		return err
	}
	for _, t := range sf.Tensors {
		if t.DType == safetensors.F32 {
			t.Name = "step." + t.Name
			out.Tensors = append(out.Tensors, t)
		}
	}
	return writeSafetensors(filepath.Join(dir, tc.name+".expected.safetensors"), out)
}

// A recorder is an oracle that keeps a copy of the points and gradients
// of its LossGrad calls.
type recorder struct {
	attack.Oracle
	xs, grads [][]float32
}

func (r *recorder) LossGrad(l attack.Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	if err := r.Oracle.LossGrad(l, x, labels, n, loss, grad, logits); err != nil {
		return err
	}
	d := r.InputSize()
	r.xs = append(r.xs, slices.Clone(x[:n*d]))
	r.grads = append(r.grads, slices.Clone(grad[:n*d]))
	return nil
}

func run(p *engine.Program, x []float32, y []int64) error {
	if err := p.Set("x", x); err != nil {
		return err
	}
	if y != nil {
		if err := p.SetLabels(y); err != nil {
			return err
		}
	}
	return p.Run()
}

func output(p *engine.Program, key, name string, shape []int, add func(string, []int, []float32)) error {
	v, err := p.Output(key)
	if err != nil {
		return err
	}
	add(name, shape, v)
	return nil
}

// makeModel returns the case's classifier: a trained checkpoint, possibly
// wrapped as a new SGN, or random weights. Random batch-norm statistics
// are calibrated on the inputs (ten training-mode passes) and every gamma,
// beta and learned gate made random, so that no layout error hides behind
// a 0 or a 1.
func makeModel(tc testCase, trained map[string]string, x []float32, rng *rand.Rand) (*classifier.Classifier, error) {
	var cls *classifier.Classifier
	if tc.trained != "" {
		path, ok := trained[tc.trained]
		if !ok {
			return nil, fmt.Errorf("no -trained %s=FILE", tc.trained)
		}
		c, err := classifier.LoadFile(path)
		if err != nil {
			return nil, err
		}
		cls = c
	} else {
		net, err := model.New(modelConfig(tc.arch, tc.cifar), rng)
		if err != nil {
			return nil, err
		}
		cls = &classifier.Classifier{Net: net}
		for _, p := range net.Params {
			switch {
			case strings.HasSuffix(p.Name, ".gamma"):
				fill(p.Data, rng, 0.5, 1.5)
			case strings.HasSuffix(p.Name, ".beta"):
				fill(p.Data, rng, -0.2, 0.2)
			}
		}
		if err := calibrate(net, x, len(x)/sizeOf(net.Config.InShape)); err != nil {
			return nil, err
		}
	}
	if tc.sgn != nil && cls.SGN == nil {
		if err := sgn.Wrap(cls.Net, *tc.sgn); err != nil {
			return nil, err
		}
		c := *tc.sgn
		cls.SGN = &c
		for _, p := range cls.Net.Params {
			if strings.HasPrefix(p.Name, sgn.GateParam("")) {
				fill(p.Data, rng, -1, 1)
			}
		}
	}
	return cls, nil
}

func fill(v []float32, rng *rand.Rand, lo, hi float64) {
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

func sizeOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func calibrate(net *model.Net, x []float32, n int) error {
	has := false
	for _, p := range net.Params {
		has = has || strings.HasSuffix(p.Name, ".running_mean")
	}
	if !has {
		return nil
	}
	p, err := engine.NewLogits(net, n, engine.WithTrainMode())
	if err != nil {
		return err
	}
	defer p.Close()
	for range 10 {
		if err := run(p, x, nil); err != nil {
			return err
		}
		if err := p.UpdateRunningStats(); err != nil {
			return err
		}
	}
	return nil
}
