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
type Calibration struct {
	Machine Machine            `json:"machine"`
	Date    string             `json:"date"`
	StepMS  map[string]float64 `json:"step_ms"` // method: milliseconds per step
}

// makeCalibration reads the training logs given as METHOD=LOG (sgn-train
// -log, one JSON record per epoch) and takes each method's cost per step
// from its last epoch, the first one paying for start-up.
func makeCalibration(pairs []string) (Calibration, error) {
	c := Calibration{Machine: thisMachine(), Date: time.Now().UTC().Format(time.RFC3339), StepMS: map[string]float64{}}
	for _, pair := range pairs {
		method, path, ok := strings.Cut(pair, "=")
		if !ok || method == "" || path == "" {
			return c, fmt.Errorf("calibration: %q: want METHOD=LOG", pair)
		}
		ms, err := lastStepMS(path)
		if err != nil {
			return c, fmt.Errorf("calibration: %s: %w", method, err)
		}
		c.StepMS[method] = ms
	}
	return c, nil
}

// lastStepMS is the step_ms of the last record of a training log.
func lastStepMS(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var last struct {
		StepMS *float64 `json:"step_ms"`
	}
	records := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		last.StepMS = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			return 0, fmt.Errorf("%s: record %d: %w", path, records+1, err)
		}
		records++
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if records == 0 || last.StepMS == nil {
		return 0, fmt.Errorf("%s: no epoch with step_ms", path)
	}
	if ms := *last.StepMS; ms > 0 && !math.IsInf(ms, 0) && !math.IsNaN(ms) {
		return ms, nil
	}
	return 0, fmt.Errorf("%s: step_ms %v: want a positive number", path, *last.StepMS)
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
	return fmt.Sprintf("%s, measured %s", c.Machine, c.Date[:min(len(c.Date), len("2006-01-02"))])
}
