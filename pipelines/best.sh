#!/usr/bin/env bash
# best.sh CELLDIR TEST EPS STEPS: early stopping's model under AutoAttack.
#
# The checkpoint whose curve point is best (sgn-study best) is what a user
# who stops training at the curve's peak would keep. Its robustness under
# the curve's attack set is only as good as that set: this scores it under
# AutoAttack's standard suite too (CELLDIR/best.json, a point). When the
# best checkpoint is the final model, the final evaluation's suite streams
# are reused; otherwise the suite runs on the shards BEST_SHARDS (default
# "0": test images 0, 4, 8, ..., a quarter of TEST) of SUITE_SHARDS (4), in
# CELLDIR/best/, each shard its own stream so that a rerun skips those done
# (sgn-attack writes -o atomically: a killed run leaves no stream).
set -euo pipefail
dir=$1 test=$2 eps=$3 steps=$4
: "${BIN:?BIN names the directory of the sgn tools}"
n=${SUITE_SHARDS:-4}
best=$("$BIN/sgn-study" best "$dir")
mkdir -p "$dir/best"
start=$(date +%s.%N)
streams=()
if [ "$best" = "$dir/model.sgn" ]; then
	streams=("$dir"/final/autoattack-*-of-"$n".arrow)
	[ -f "${streams[0]}" ] || { echo "best.sh: $dir/final has no suite streams" >&2; exit 1; }
else
	for i in ${BEST_SHARDS:-0}; do
		out=$dir/best/autoattack-$i-of-$n.arrow
		if [ ! -f "$out" ]; then
			"$BIN/sgn-attack" -eps "$eps" -suite standard -steps "$steps" -queries "${SUITE_QUERIES:-5000}" -shard "$i/$n" \
				-model "$best" -data "$test" -o "$out" 2>>"$dir/best/log" ||
				{ tail -n 3 "$dir/best/log" >&2; exit 1; }
		fi
		streams+=("$out")
	done
fi
"$BIN/sgn-score" -json "${streams[@]}" >"$dir/best/score.json"
end=$(date +%s.%N)
"$BIN/sgn-study" point -model "$best" -score "$dir/best/score.json" -seconds "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >"$dir/best.json.tmp"
mv "$dir/best.json.tmp" "$dir/best.json"
