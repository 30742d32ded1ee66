package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A Number is a float flag that also takes a fraction, as budgets are
// often written: -eps 8/255.
type Number float64

// ParseNumber parses a decimal number or a fraction a/b of two decimal
// numbers, finite either way.
func ParseNumber(s string) (float64, error) {
	num, den, frac := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return 0, fmt.Errorf("%q divides by zero", s)
			}
			if math.IsInf(d, 0) {
				err = fmt.Errorf("infinite denominator")
			}
			v /= d
		}
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number or fraction such as 0.3 or 8/255", s)
	}
	return v, nil
}

// Set implements flag.Value.
func (n *Number) Set(s string) error {
	v, err := ParseNumber(s)
	if err != nil {
		return err
	}
	*n = Number(v)
	return nil
}

// String implements flag.Value.
func (n *Number) String() string {
	if n == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*n), 'g', -1, 64)
}

// An OptionalNumber is a Number flag that may be left unset, for a default
// that depends on other settings and that the flag's usage text states in
// words: unlike a sentinel value, an unset OptionalNumber makes the flag
// package print no "(default ...)" of its own.
type OptionalNumber struct {
	value float64
	set   bool
}

// Get returns the number and whether it was given.
func (n *OptionalNumber) Get() (float64, bool) { return n.value, n.set }

// Set implements flag.Value.
func (n *OptionalNumber) Set(s string) error {
	v, err := ParseNumber(s)
	if err != nil {
		return err
	}
	n.value, n.set = v, true
	return nil
}

// String implements flag.Value: empty when unset.
func (n *OptionalNumber) String() string {
	if n == nil || !n.set {
		return ""
	}
	return strconv.FormatFloat(n.value, 'g', -1, 64)
}

// Count returns n and the noun, in the plural (the noun with an s) unless
// n is 1: "1 epoch", "2 epochs". A noun of another plural is given as
// "batch/batches".
func Count(n int, noun string) string {
	one, many, irregular := strings.Cut(noun, "/")
	if !irregular {
		many = one + "s"
	}
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
