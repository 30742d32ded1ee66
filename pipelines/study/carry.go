package main

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"slices"

	"sgn/shared/classifier"
)

// Carrying results across machines. A study outlives the machine it runs
// on: every finished unit of a cell (a curve point, a shard of the final
// evaluation, the sweep, the best checkpoint's suite) is copied as its small
// JSON to the study's results (partial/CELL/), and a later run on a fresh
// machine retrains the cell, which the study's pinned kernels make the same
// bit for bit, and reuses a carried unit only when the checkpoint it was
// measured on has the same weights as the one retrained (weightsSum).

// weightsSum is the hex SHA-256 of a classifier's weights alone (see
// checkpoint.WeightsSum).
func weightsSum(cls *classifier.Classifier) (string, error) {
	ck, err := cls.Checkpoint()
	if err != nil {
		return "", err
	}
	sum := ck.WeightsSum()
	return hex.EncodeToString(sum[:]), nil
}

// fileWeightsSum is weightsSum of the checkpoint at path.
func fileWeightsSum(path string) (string, error) {
	cls, err := classifier.LoadFile(path)
	if err != nil {
		return "", err
	}
	sum, err := weightsSum(cls)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return sum, nil
}

// sameWeights reports whether the point at pointPath was measured on the
// weights of the checkpoint at modelPath and, when transferPath is not
// empty, its transfer attack crafted on those of transferPath. A point
// that recorded no transfer model predates the record and is taken on
// its model's weights alone.
func sameWeights(modelPath, pointPath, transferPath string) (bool, error) {
	var p Point
	if err := readJSON(pointPath, &p); err != nil {
		return false, err
	}
	sum, err := fileWeightsSum(modelPath)
	if err != nil {
		return false, err
	}
	if p.Weights == "" || p.Weights != sum {
		return false, nil
	}
	if transferPath == "" || p.TransferWeights == "" {
		return true, nil
	}
	tsum, err := fileWeightsSum(transferPath)
	if err != nil {
		return false, err
	}
	return p.TransferWeights == tsum, nil
}

// mergePoints joins the points of one model measured on disjoint shards of
// the test examples into the point of all of them: each accuracy is the
// shards' counts added up (the worst case is per example, so it adds up
// too) and the evaluation time is the shards' sum. The shards must agree
// on the model, the eps and the attacks.
func mergePoints(shards []Point) (Point, error) {
	if len(shards) == 0 {
		return Point{}, fmt.Errorf("no points to merge")
	}
	m := shards[0]
	m.Attacks = append([]Named(nil), m.Attacks...)
	m.Machines = append([]Machine(nil), m.Machines...)
	count := func(acc float64, n int) float64 { return math.Round(acc * float64(n)) }
	clean, robust := count(m.Clean, m.N), count(m.Robust, m.N)
	attacks := make([]float64, len(m.Attacks))
	for i, a := range m.Attacks {
		attacks[i] = count(a.Accuracy, m.N)
	}
	for i, s := range shards[1:] {
		switch {
		case s.Weights != m.Weights:
			return Point{}, fmt.Errorf("shard %d is of other weights (%.12s, not %.12s)", i+2, s.Weights, m.Weights)
		case s.TransferWeights != "" && m.TransferWeights != "" && s.TransferWeights != m.TransferWeights:
			return Point{}, fmt.Errorf("shard %d's transfer attack crafted on other weights (%.12s, not %.12s)", i+2, s.TransferWeights, m.TransferWeights)
		case s.Step != m.Step:
			return Point{}, fmt.Errorf("shard %d is of step %d, not %d", i+2, s.Step, m.Step)
		case s.Eps != m.Eps:
			return Point{}, fmt.Errorf("shard %d is at eps %g, not %g", i+2, s.Eps, m.Eps)
		case len(s.Attacks) != len(m.Attacks):
			return Point{}, fmt.Errorf("shard %d has %d attacks, not %d", i+2, len(s.Attacks), len(m.Attacks))
		}
		for j, a := range s.Attacks {
			if a.Label != m.Attacks[j].Label {
				return Point{}, fmt.Errorf("shard %d's attack %d is %s, not %s", i+2, j+1, a.Label, m.Attacks[j].Label)
			}
			attacks[j] += count(a.Accuracy, s.N)
		}
		for _, mach := range s.Machines {
			if !slices.Contains(m.Machines, mach) {
				m.Machines = append(m.Machines, mach)
			}
		}
		// A shard carried from before transfer models were recorded has
		// none; the others name it.
		m.TransferWeights = cmp.Or(m.TransferWeights, s.TransferWeights)
		clean += count(s.Clean, s.N)
		robust += count(s.Robust, s.N)
		m.N += s.N
		m.EvalSeconds += s.EvalSeconds
	}
	n := float64(m.N)
	m.Clean, m.Robust = clean/n, robust/n
	for j := range m.Attacks {
		m.Attacks[j].Accuracy = attacks[j] / n
	}
	return m, nil
}

// onlyAttack is p as measured by the attack called name alone: its
// accuracy is the robust one. The final evaluation's point holds the suite
// among the other attacks; the best checkpoint's, when it is the final
// model, is the suite's share of it. Its evaluation time is zero: it was
// counted in p's.
func onlyAttack(p Point, name string) (Point, error) {
	for _, a := range p.Attacks {
		if a.Name == name {
			p.Attacks = []Named{a}
			p.Robust = a.Accuracy
			p.EvalSeconds = 0
			return p, nil
		}
	}
	return Point{}, fmt.Errorf("no attack %s in the point", name)
}
