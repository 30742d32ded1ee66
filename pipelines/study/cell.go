package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"sgn/shared/classifier"
	"sgn/shared/kernels"
	"sgn/shared/score"
	"sgn/shared/train"
)

// Row is one cell of a study file.
type Row struct {
	Cell     string `json:"cell"`
	Dataset  string `json:"dataset"`
	Method   string `json:"method"`
	Role     string `json:"role"`
	Seed     int    `json:"seed"`
	Epochs   int    `json:"epochs"`
	Every    int    `json:"every"`
	Transfer string `json:"transfer,omitempty"`
	Flags    string `json:"flags"`
}

// ReadStudy reads a study file: tab-separated rows of nine columns, '#'
// comment lines and blank lines ignored.
func ReadStudy(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Row
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") || strings.TrimSpace(text) == "" {
			continue
		}
		col := strings.Split(text, "\t")
		if len(col) != 9 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 9 (cell dataset method role seed epochs every transfer flags)", path, line, len(col))
		}
		r := Row{Cell: col[0], Dataset: col[1], Method: col[2], Role: col[3], Transfer: col[7], Flags: col[8]}
		if r.Transfer == "-" {
			r.Transfer = ""
		}
		for i, dst := range map[int]*int{4: &r.Seed, 5: &r.Epochs, 6: &r.Every} {
			if *dst, err = strconv.Atoi(col[i]); err != nil || *dst <= 0 {
				return nil, fmt.Errorf("%s:%d: column %d is %q, want a positive integer", path, line, i+1, col[i])
			}
		}
		if !slices.Contains([]string{"pilot", "headline", "baseline", "ablation"}, r.Role) {
			return nil, fmt.Errorf("%s:%d: role %q, want pilot, headline, baseline or ablation", path, line, r.Role)
		}
		if seen[r.Cell] {
			return nil, fmt.Errorf("%s:%d: cell %s named twice", path, line, r.Cell)
		}
		seen[r.Cell] = true
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range rows {
		if r.Transfer != "" && !seen[r.Transfer] {
			return nil, fmt.Errorf("%s: cell %s transfers from %s, which is not in the study", path, r.Cell, r.Transfer)
		}
	}
	return rows, nil
}

// Point is a model's accuracy under one attack set, with where its
// training stood.
type Point struct {
	Step         int     `json:"step"`
	Epoch        float64 `json:"epoch"`         // fractional epochs trained
	TrainSeconds float64 `json:"train_seconds"` // training wall time to this point
	Eps          float64 `json:"eps"`
	N            int     `json:"n"`
	Clean        float64 `json:"clean"`
	Robust       float64 `json:"robust"` // per-example worst case over Attacks
	Attacks      []Named `json:"attacks"`
	EvalSeconds  float64 `json:"eval_seconds"`
	// Weights is the SHA-256 of the checkpoint's weights (weightsSum);
	// TransferWeights that of the model a transfer attack crafted its
	// examples on, when one did.
	Weights         string `json:"weights_sha256,omitempty"`
	TransferWeights string `json:"transfer_weights_sha256,omitempty"`
	// Machines are where the evaluation ran: one, or for shards merged
	// from several runs each one they ran on.
	Machines []Machine `json:"machines,omitempty"`
}

// Named is one attack's accuracy under a short name.
type Named struct {
	Name     string  `json:"name"`
	Label    string  `json:"label"` // sgn-score's description
	Accuracy float64 `json:"accuracy"`
}

// shortName names an attack the way tables and plots show it:
// apgd-ce, pgd-cw, pgd-ce-smooth0.05, transfer, square, ...
func shortName(a score.AttackResult) string {
	if a.Attack == "suite" {
		if a.Params["suite"] == "standard" {
			return "autoattack" // AutoAttack's standard suite, as papers name it
		}
		return "suite-" + a.Params["suite"]
	}
	name := a.Attack
	if l := a.Params["loss"]; l != "" && name != "square" && name != "fgsm" {
		name += "-" + l
	}
	if s := a.Params["surrogate"]; s != "" {
		// sgn-attack describes it as tanh(s/TAU).
		name += "-smooth" + strings.TrimSuffix(strings.TrimPrefix(s, "tanh(s/"), ")")
	} else if a.Params["sg_grad"] == "detached" {
		name += "-detached"
	}
	return name
}

// progressOf reads the training progress a checkpoint carries.
func progressOf(cls *classifier.Classifier) (step int, epoch, seconds float64, err error) {
	var rec struct {
		Config   train.Config   `json:"config"`
		Progress train.Progress `json:"progress"`
		Examples int            `json:"examples"`
	}
	if err := json.Unmarshal(cls.Train, &rec); err != nil {
		return 0, 0, 0, fmt.Errorf("training record: %w", err)
	}
	p := rec.Progress
	epoch = float64(p.Epoch)
	if per := (rec.Examples - rec.Config.Val) / max(rec.Config.Batch, 1); per > 0 {
		epoch += float64(p.Batch) / float64(per)
	}
	return p.Step, epoch, p.Seconds, nil
}

// makePoint combines a checkpoint's progress with sgn-score's report of the
// attacks on it.
func makePoint(modelPath, scorePath string, evalSeconds float64) (Point, error) {
	cls, err := classifier.LoadFile(modelPath)
	if err != nil {
		return Point{}, err
	}
	var p Point
	if p.Step, p.Epoch, p.TrainSeconds, err = progressOf(cls); err != nil {
		return Point{}, fmt.Errorf("%s: %w", modelPath, err)
	}
	if p.Weights, err = weightsSum(cls); err != nil {
		return Point{}, fmt.Errorf("%s: %w", modelPath, err)
	}
	p.Machines = []Machine{thisMachine()}
	var r score.Result
	if err := readJSON(scorePath, &r); err != nil {
		return Point{}, err
	}
	if r.CleanAccuracy == nil || len(r.ByEps) != 1 {
		return Point{}, fmt.Errorf("%s: want attack streams at one eps with clean predictions", scorePath)
	}
	// Streams kept across runs may be of an earlier checkpoint at the same
	// path (a cell retrained in place): their figures are not this one's.
	if r.Checkpoint != "" {
		sum, err := fileSHA256(modelPath)
		if err != nil {
			return Point{}, err
		}
		if r.Checkpoint != sum {
			return Point{}, fmt.Errorf("%s: the streams attacked checkpoint %.12s, not %s (%.12s): remove them and attack again", scorePath, r.Checkpoint, modelPath, sum)
		}
	}
	if p.Eps, err = strconv.ParseFloat(r.ByEps[0].Eps, 64); err != nil {
		return Point{}, fmt.Errorf("%s: eps %q: %w", scorePath, r.ByEps[0].Eps, err)
	}
	p.N, p.Clean, p.Robust, p.EvalSeconds = r.N, *r.CleanAccuracy, r.ByEps[0].Accuracy, evalSeconds
	for _, a := range r.Attacks {
		p.Attacks = append(p.Attacks, Named{Name: shortName(a), Label: a.Label(), Accuracy: a.Accuracy})
	}
	return p, nil
}

// Cell is a cell's result file: everything the report needs, small enough
// to commit.
type Cell struct {
	Study  string          `json:"study"`
	Row    Row             `json:"row"`
	Recipe json.RawMessage `json:"recipe"` // the training configuration saved in the checkpoint
	SGN    json.RawMessage `json:"sgn,omitempty"`
	// Checkpoint is the SHA-256 of the final checkpoint file, Weights that
	// of its weights alone (the same for a retraining bit for bit).
	Checkpoint   string         `json:"checkpoint_sha256"`
	Weights      string         `json:"weights_sha256,omitempty"`
	TrainSeconds float64        `json:"train_seconds"`
	Log          []train.Record `json:"log"`
	Curve        []Point        `json:"curve"`
	Final        Point          `json:"final"`
	// Best is the curve's best checkpoint (early stopping's choice) under
	// the final evaluation's AutoAttack suite, for the cells that have it.
	Best    *Point  `json:"best,omitempty"`
	Sweep   []Point `json:"sweep"`
	Machine Machine `json:"machine"`
}

// Machine says where a cell ran.
type Machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	// Kernels are the ones the tools choose in this environment
	// (kernels.Name).
	Kernels string `json:"kernels,omitempty"`
}

// String is the machine as reports name it.
func (m Machine) String() string {
	s := fmt.Sprintf("%s, %d cores, %s", m.CPU, m.Cores, m.Go)
	if m.Kernels != "" {
		s += ", " + m.Kernels + " kernels"
	}
	return s
}

func thisMachine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), Go: runtime.Version(), Kernels: kernels.Name()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// makeCell assembles the result of row from its directory: model.sgn,
// log.jsonl, point-*.json, final.json and sweep-*.json.
func makeCell(study string, row Row, dir string) (Cell, error) {
	c := Cell{Study: study, Row: row, Machine: thisMachine()}
	modelPath := filepath.Join(dir, "model.sgn")
	sum, err := fileSHA256(modelPath)
	if err != nil {
		return c, err
	}
	c.Checkpoint = sum
	cls, err := classifier.LoadFile(modelPath)
	if err != nil {
		return c, err
	}
	var rec struct {
		Config   json.RawMessage `json:"config"`
		Progress train.Progress  `json:"progress"`
	}
	if err := json.Unmarshal(cls.Train, &rec); err != nil {
		return c, fmt.Errorf("%s: training record: %w", modelPath, err)
	}
	if !rec.Progress.Done {
		return c, fmt.Errorf("%s: training is not finished", modelPath)
	}
	c.Recipe, c.TrainSeconds = rec.Config, rec.Progress.Seconds
	if c.Weights, err = weightsSum(cls); err != nil {
		return c, fmt.Errorf("%s: %w", modelPath, err)
	}
	if cls.SGN != nil {
		if c.SGN, err = json.Marshal(cls.SGN); err != nil {
			return c, err
		}
	}
	if c.Log, err = readLog(filepath.Join(dir, "log.jsonl")); err != nil {
		return c, err
	}
	points, err := filepath.Glob(filepath.Join(dir, "point-*.json"))
	if err != nil {
		return c, err
	}
	for _, path := range points {
		var p Point
		if err := readJSON(path, &p); err != nil {
			return c, err
		}
		c.Curve = append(c.Curve, p)
	}
	slices.SortFunc(c.Curve, func(a, b Point) int { return a.Step - b.Step })
	if err := readJSON(filepath.Join(dir, "final.json"), &c.Final); err != nil {
		return c, err
	}
	if w := c.Final.Weights; w != "" && w != c.Weights {
		return c, fmt.Errorf("%s: measured on other weights (%.12s) than %s's (%.12s)", filepath.Join(dir, "final.json"), w, modelPath, c.Weights)
	}
	if best := filepath.Join(dir, "best.json"); fileExists(best) {
		c.Best = new(Point)
		if err := readJSON(best, c.Best); err != nil {
			return c, err
		}
	}
	sweeps, err := filepath.Glob(filepath.Join(dir, "sweep-*.json"))
	if err != nil {
		return c, err
	}
	for _, path := range sweeps {
		var p Point
		if err := readJSON(path, &p); err != nil {
			return c, err
		}
		if p.Weights != "" && p.Weights != c.Weights {
			return c, fmt.Errorf("%s: measured on other weights (%.12s) than %s's (%.12s)", path, p.Weights, modelPath, c.Weights)
		}
		c.Sweep = append(c.Sweep, p)
	}
	slices.SortFunc(c.Sweep, func(a, b Point) int {
		switch {
		case a.Eps < b.Eps:
			return -1
		case a.Eps > b.Eps:
			return 1
		}
		return 0
	})
	return c, nil
}

// BestCheckpoint is the checkpoint of the best point of the curve in dir
// (point-STEP.json for model-stepSTEP.sgn, point-final.json for
// model.sgn): the highest worst-case robust accuracy, the earliest of ties,
// as early stopping on the curve would choose.
func BestCheckpoint(dir string) (string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "point-*.json"))
	if err != nil {
		return "", err
	}
	if len(paths) == 0 {
		return "", fmt.Errorf("%s: no curve points", dir)
	}
	var best Point
	bestPath := ""
	for _, path := range paths {
		var p Point
		if err := readJSON(path, &p); err != nil {
			return "", err
		}
		if bestPath == "" || p.Robust > best.Robust || (p.Robust == best.Robust && p.Step < best.Step) {
			best, bestPath = p, path
		}
	}
	id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(bestPath), "point-"), ".json")
	if id == "final" {
		return filepath.Join(dir, "model.sgn"), nil
	}
	return filepath.Join(dir, "model-step"+id+".sgn"), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readLog reads a training log, keeping the last record of each epoch (a
// resumed run may repeat one).
func readLog(path string) ([]train.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	byEpoch := map[int]train.Record{}
	for line := range strings.Lines(string(b)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r train.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		byEpoch[r.Epoch] = r
	}
	var out []train.Record
	for _, r := range byEpoch {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b train.Record) int { return a.Epoch - b.Epoch })
	return out, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
