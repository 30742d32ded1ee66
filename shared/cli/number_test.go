package cli

import (
	"flag"
	"fmt"
	"math"
	"strings"
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

func TestOptionalNumber(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    float64
		wantSet bool
	}{
		{nil, 0, false},
		{[]string{"-eps", "8/255"}, 8.0 / 255, true},
		{[]string{"-eps", "0"}, 0, true}, // zero given is not zero left unset
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var n OptionalNumber
		fs.Var(&n, "eps", "budget (default: the model's)")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if v, set := n.Get(); v != tt.want || set != tt.wantSet {
			t.Errorf("%v: Get() = %v, %v; want %v, %v", tt.args, v, set, tt.want, tt.wantSet)
		}
	}
	// The usage shows the default in words only.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.Var(new(OptionalNumber), "eps", "budget (default: the model's)")
	fs.PrintDefaults()
	if strings.Count(usage.String(), "default") != 1 {
		t.Errorf("usage %q, want only the default in words", usage.String())
	}
}

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n          int
		noun, want string
	}{
		{0, "epoch", "0 epochs"}, {1, "epoch", "1 epoch"}, {2, "epoch", "2 epochs"},
		{1, "batch/batches", "1 batch"}, {7, "batch/batches", "7 batches"},
	} {
		if got := Count(tt.n, tt.noun); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
