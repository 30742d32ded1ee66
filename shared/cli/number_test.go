package cli

import (
	"flag"
	"fmt"
	"math"
	"testing"
)

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.3", 0.3, true},
		{"8/255", 8.0 / 255, true},
		{" 16 / 255 ", 16.0 / 255, true},
		{"1e-2", 0.01, true},
		{"-1", -1, true},
		{"8/0", 0, false},
		{"8/", 0, false},
		{"/255", 0, false},
		{"eight", 0, false},
		{"NaN", 0, false},
		{"1/Inf", 0, false},
		{"Inf", 0, false},
	} {
		got, err := ParseNumber(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	// 8/255 is the budget usually printed as 0.0313725.
	if v, _ := ParseNumber("8/255"); math.Abs(v-0.0313725) > 1e-7 {
		t.Errorf("8/255 = %v, not 0.0313725 to 7 digits", v)
	}
}

func ExampleNumber() {
	fs := flag.NewFlagSet("sgn-attack", flag.ContinueOnError)
	eps := Number(0.3)
	fs.Var(&eps, "eps", "budget")
	if err := fs.Parse([]string{"-eps", "8/255"}); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%.7f %s\n", float64(eps), eps.String())
	// Output: 0.0313725 0.03137254901960784
}
