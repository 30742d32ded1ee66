#!/usr/bin/env bash
# final.sh CELLDIR TEST EPS STEPS QUERIES 'SWEEP_EPS' [TRANSFER_MODEL]:
# the final evaluation of CELLDIR/model.sgn on the TEST examples.
#
# At EPS, the strongest set sgn has, each attack seeing the whole model:
# AutoAttack's standard suite (APGD-CE, APGD-T, FAB-T, Square with 5,000
# queries, each on what the ones before left unbroken; SUITE=none skips it,
# as ablation cells do: it costs about 40 min of 2 cores on a madry-mnist
# model and several times that on an SGN), APGD with
# cross-entropy and with the DLR loss, PGD with the margin loss
# and two restarts, FGSM, the gradient-free Square attack (QUERIES), and
# PGD crafted on TRANSFER_MODEL; for an SGN also PGD through its detached
# self-gradient path and through smooth surrogates of its sign
# (tanh(s/0.05) with cross-entropy, tanh(s/0.005) with the margin loss).
# Robust accuracy is the per-example worst case over all of them
# (CELLDIR/final.json). Each further eps of SWEEP_EPS gets the curve's
# attack set (point.sh) in CELLDIR/sweep-EPS.json.
#
# Attack streams stay in CELLDIR/final/, so a rerun skips the attacks done.
set -euo pipefail
dir=$1 test=$2 eps=$3 steps=$4 queries=$5 sweep=$6 transfer=${7:-}
: "${BIN:?BIN names the directory of the sgn tools}"
model=$dir/model.sgn
mkdir -p "$dir/final"
attack() {
	local name=$1; shift
	[ -f "$dir/final/$name.arrow" ] && return
	"$BIN/sgn-attack" -eps "$eps" "$@" -model "$model" -data "$test" -o "$dir/final/$name.arrow" 2>>"$dir/final/log" ||
		{ tail -n 3 "$dir/final/log" >&2; exit 1; }
}
start=$(date +%s.%N)
if [ "${SUITE:-standard}" != none ]; then
	# In shards, each its own stream: a run cut short loses one shard's
	# work, not hours of it (sgn-score puts the shards back together).
	n=${SUITE_SHARDS:-4}
	for i in $(seq 0 $((n - 1))); do
		attack "autoattack-$i-of-$n" -suite "${SUITE:-standard}" -steps "$steps" -queries "${SUITE_QUERIES:-5000}" -shard "$i/$n"
	done
fi
attack apgd-ce -apgd -loss ce -steps "$steps"
attack apgd-dlr -apgd -loss dlr -steps "$steps"
attack pgd-cw -pgd -loss cw -steps "$steps" -restarts 2
attack fgsm -fgsm
attack square -square -steps "$queries"
if [ -n "$transfer" ]; then
	attack transfer -pgd -loss ce -steps "$steps" -transfer "$transfer"
fi
if [ "$("$BIN/sgn-study" is-sgn "$model")" = yes ]; then
	attack pgd-detached -pgd -loss ce -steps "$steps" -sg-grad detached
	attack pgd-smooth -pgd -loss ce -steps "$steps" -sg-surrogate 0.05
	attack pgd-smooth-cw -pgd -loss cw -steps "$steps" -sg-surrogate 0.005
fi
"$BIN/sgn-score" -json "$dir"/final/*.arrow >"$dir/final/score.json"
end=$(date +%s.%N)
for e in $sweep; do
	[ -f "$dir/sweep-$e.json" ] || bash "$(dirname "$0")/point.sh" "$model" "$test" "$e" "$(( steps / 2 ))" "$dir/sweep-$e.json"
done
"$BIN/sgn-study" point -model "$model" -score "$dir/final/score.json" -seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >"$dir/final.json.tmp"
mv "$dir/final.json.tmp" "$dir/final.json"
