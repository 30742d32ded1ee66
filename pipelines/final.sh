#!/usr/bin/env bash
# final.sh CELLDIR TEST EPS STEPS QUERIES I-of-N [TRANSFER_MODEL]: one
# shard of the final evaluation of CELLDIR/model.sgn: the TEST examples
# I, I+N, I+2N, ...
#
# At EPS, the strongest set sgn has, each attack seeing the whole model:
# AutoAttack's standard suite (APGD-CE, APGD-T, FAB-T, Square with
# SUITE_QUERIES, 5,000, queries, each on what the ones before left
# unbroken; SUITE=none skips it, as ablation cells do: it costs about
# 40 min of 2 cores on 1,000 examples of a madry-mnist model and several
# times that on an SGN), APGD with cross-entropy and with the DLR loss, PGD
# with the margin loss and two restarts, FGSM, the gradient-free Square
# attack (QUERIES), and PGD crafted on TRANSFER_MODEL; for an SGN also PGD
# through its detached self-gradient path and through smooth surrogates of
# its sign (tanh(s/0.05) with cross-entropy, tanh(s/0.005) with the margin
# loss). Robust accuracy is the per-example worst case over all of them;
# the shard's point is CELLDIR/final-I-of-N.json, and the shards' points
# add up to the final one (sgn-study merge).
#
# Attack streams stay in CELLDIR/final/I-of-N/, so a rerun skips the attacks
# done (and the evaluation time adds up each attack's, over runs); with
# CARRY set, a shard carried from an earlier run is reused and a
# new one carried (carry.sh).
set -euo pipefail
dir=$1 test=$2 eps=$3 steps=$4 queries=$5 shard=$6 transfer=${7:-}
: "${BIN:?BIN names the directory of the sgn tools}"
[[ $shard =~ ^[0-9]+-of-[0-9]+$ ]] || { echo "final.sh: shard $shard, want I-of-N" >&2; exit 2; }
. "$(dirname "$0")/carry.sh"
. "$(dirname "$0")/streams.sh"
model=$dir/model.sgn
out=$dir/final-$shard.json
carried "$out" "$model" "$transfer" && exit 0
streams=$dir/final/$shard
keep_streams "$streams" "$model"
attack() {
	local name=$1 start; shift
	[ -f "$streams/$name.arrow" ] && return
	start=$(date +%s.%N)
	"$BIN/sgn-attack" -eps "$eps" "$@" -shard "${shard/-of-//}" -model "$model" -data "$test" -o "$streams/$name.arrow" 2>>"$streams/log" ||
		{ tail -n 3 "$streams/log" >&2; exit 1; }
	record_seconds "$streams/$name.seconds" "$start"
}
if [ "${SUITE:-standard}" != none ]; then
	attack autoattack -suite "${SUITE:-standard}" -steps "$steps" -queries "${SUITE_QUERIES:-5000}"
fi
attack apgd-ce -apgd -loss ce -steps "$steps"
attack apgd-dlr -apgd -loss dlr -steps "$steps"
attack pgd-cw -pgd -loss cw -steps "$steps" -restarts 2
attack fgsm -fgsm
attack square -square -steps "$queries"
if [ -n "$transfer" ]; then
	attack transfer -pgd -loss ce -steps "$steps" -transfer "$transfer"
fi
sgn=$("$BIN/sgn-study" is-sgn "$model")
if [ "$sgn" = yes ]; then
	attack pgd-detached -pgd -loss ce -steps "$steps" -sg-grad detached
	attack pgd-smooth -pgd -loss ce -steps "$steps" -sg-surrogate 0.05
	attack pgd-smooth-cw -pgd -loss cw -steps "$steps" -sg-surrogate 0.005
fi
start=$(date +%s.%N)
"$BIN/sgn-score" -json "$streams"/*.arrow >"$streams/score.json"
seconds=$(awk -v a="$(since "$start")" -v b="$(sum_seconds "$streams"/*.seconds)" 'BEGIN { print a + b }')
"$BIN/sgn-study" point -model "$model" -score "$streams/score.json" -seconds "$seconds" ${transfer:+-transfer "$transfer"} >"$out.tmp"
mv "$out.tmp" "$out"
carry "$out"
