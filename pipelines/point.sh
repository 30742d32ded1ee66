#!/usr/bin/env bash
# point.sh MODEL TEST EPS STEPS OUT.json: one point of a convergence curve.
# The model is attacked on the TEST examples by the curve's attack set, the
# same for every model: APGD with cross-entropy and PGD with the margin
# (CW) loss, STEPS iterations each from a random start; an SGN also by PGD
# through the smooth surrogate tanh(s/0.05) of its sign, whose exact
# derivative is zero. OUT.json: the point (clean accuracy, each attack's,
# the per-example worst case) with the checkpoint's training progress and
# the SHA-256 of its weights. With CARRY set, a point carried from an
# earlier run is reused and a new one carried (carry.sh).
set -euo pipefail
model=$1 test=$2 eps=$3 steps=$4 out=$5
: "${BIN:?BIN names the directory of the sgn tools}"
. "$(dirname "$0")/carry.sh"
carried "$out" "$model" && exit 0
tmp=$(mktemp -d "${out%.json}.XXXX")
trap 'rm -rf "$tmp"' EXIT
attack() {
	local name=$1; shift
	"$BIN/sgn-attack" -eps "$eps" "$@" -model "$model" -data "$test" -o "$tmp/$name.arrow" 2>>"$tmp/log" ||
		{ cat "$tmp/log" >&2; exit 1; }
}
start=$(date +%s.%N)
attack apgd-ce -apgd -loss ce -steps "$steps"
attack pgd-cw -pgd -loss cw -steps "$steps"
# On its own line, so that a failing is-sgn stops the script rather than
# leaving an SGN without its surrogate attack.
sgn=$("$BIN/sgn-study" is-sgn "$model")
if [ "$sgn" = yes ]; then
	attack pgd-smooth -pgd -loss ce -steps "$steps" -sg-surrogate 0.05
fi
"$BIN/sgn-score" -json "$tmp"/*.arrow >"$tmp/score.json"
end=$(date +%s.%N)
"$BIN/sgn-study" point -model "$model" -score "$tmp/score.json" -seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >"$out.tmp"
mv "$out.tmp" "$out"
carry "$out"
