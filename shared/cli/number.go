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
