package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Calibration is what one optimiser step of each method's training costs
// on one machine, all measured in one run (calibrate.sh, `make -C
// pipelines calibrate STUDY=...`). A study's cells run on whatever
// machines its sessions get, whose speeds differ by tens of percent; the
// steps a method took to reach a level, times its cost per step here,
// compare methods as if they had all trained on this machine.
//
// A calibration with a Framework timed each method's step in that
// framework instead (pipelines/torch/step_cost.py, `make -C pipelines
// calibrate-pytorch`): a ratio between methods also depends on how well
// an implementation does each kind of step.
type Calibration struct {
	Machine   Machine            `json:"machine"`
	Framework string             `json:"framework,omitempty"` // e.g. "PyTorch 1.13.0, 2 threads, libopenblas"; empty: sgn's own tools
	Date      string             `json:"date"`
	StepMS    map[string]float64 `json:"step_ms"` // method: milliseconds per step
}

// makeCalibration reads the training logs given as METHOD=LOG (sgn-train
// -log, one JSON record per epoch, or step_cost.py's one record) and takes
// each method's cost per step from its last record, the first epoch
// paying for start-up. Logs that name a framework must all name the same.
func makeCalibration(pairs []string) (Calibration, error) {
	c := Calibration{Machine: thisMachine(), Date: time.Now().UTC().Format(time.RFC3339), StepMS: map[string]float64{}}
	for i, pair := range pairs {
		method, path, ok := strings.Cut(pair, "=")
		if !ok || method == "" || path == "" {
			return c, fmt.Errorf("calibration: %q: want METHOD=LOG", pair)
		}
		ms, framework, err := lastStep(path)
		if err != nil {
			return c, fmt.Errorf("calibration: %s: %w", method, err)
		}
		if i == 0 {
			c.Framework = framework
		} else if framework != c.Framework {
			return c, fmt.Errorf("calibration: %s: timed in %s, the methods before it in %s", method, frameworkName(framework), frameworkName(c.Framework))
		}
		c.StepMS[method] = ms
	}
	if c.Framework != "" {
		// The Go toolchain and sgn's kernels timed nothing here.
		c.Machine.Go, c.Machine.Kernels = "", ""
	}
	return c, nil
}

// frameworkName names what timed a log: sgn-train's logs name nothing.
func frameworkName(framework string) string {
	if framework == "" {
		return "sgn-train"
	}
	return framework
}

// lastStep is the step_ms of the last record of a training log, and the
// framework that record names.
func lastStep(path string) (ms float64, framework string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	var last struct {
		StepMS    *float64 `json:"step_ms"`
		Framework string   `json:"framework"`
	}
	records := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		last.StepMS, last.Framework = nil, ""
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			return 0, "", fmt.Errorf("%s: record %d: %w", path, records+1, err)
		}
		records++
	}
	if err := sc.Err(); err != nil {
		return 0, "", fmt.Errorf("%s: %w", path, err)
	}
	if records == 0 || last.StepMS == nil {
		return 0, "", fmt.Errorf("%s: no epoch with step_ms", path)
	}
	if ms := *last.StepMS; ms > 0 && !math.IsInf(ms, 0) && !math.IsNaN(ms) {
		return ms, last.Framework, nil
	}
	return 0, "", fmt.Errorf("%s: step_ms %v: want a positive number", path, *last.StepMS)
}

// readCalibration reads a study's calibration.json; a study without one
// gives nil.
func readCalibration(path string) (*Calibration, error) {
	var c Calibration
	if err := readJSON(path, &c); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	return &c, nil
}

// seconds is what the steps of a method's reach cost on the calibration's
// machine; ok is false where the calibration lacks the method.
func (c *Calibration) seconds(method string, x reach) ([]float64, bool) {
	if c == nil {
		return nil, false
	}
	ms, ok := c.StepMS[method]
	if !ok {
		return nil, false
	}
	out := make([]float64, len(x.steps))
	for i, s := range x.steps {
		out[i] = s * ms / 1000
	}
	return out, true
}

func (c *Calibration) String() string {
	day := c.Date[:min(len(c.Date), len("2006-01-02"))]
	if c.Framework != "" {
		return fmt.Sprintf("%s, %d cores, %s, measured %s", c.Machine.CPU, c.Machine.Cores, c.Framework, day)
	}
	return fmt.Sprintf("%s, measured %s", c.Machine, day)
}
