#!/usr/bin/env bash
# best.sh CELLDIR TEST EPS STEPS: early stopping's model under AutoAttack.
#
# The checkpoint whose curve point is best (sgn-study best) is what a user
# who stops training at the curve's peak would keep. Its robustness under
# the curve's attack set is only as good as that set: this scores it under
# AutoAttack's standard suite too (CELLDIR/best.json, a point). When the
# best checkpoint is the final model, the final evaluation's suite figures
# are taken (CELLDIR/final.json); otherwise the suite runs on the shards
# BEST_SHARDS (default "0": test images 0, 4, 8, ..., a quarter of TEST) of
# SUITE_SHARDS (4), in CELLDIR/best/, each shard its own stream so that a
# rerun skips those done (sgn-attack writes -o atomically: a killed run
# leaves no stream; streams of another checkpoint are removed first). With
# CARRY set, a best.json carried from an earlier
# run is reused and a new one carried (carry.sh). With BEST_STREAMS_ONLY=1
# it only attacks (the streams need no final evaluation, so they can run
# beside it) and writes no best.json; each stream's time is kept beside it
# for the point's.
set -euo pipefail
dir=$1 test=$2 eps=$3 steps=$4
: "${BIN:?BIN names the directory of the sgn tools}"
. "$(dirname "$0")/carry.sh"
. "$(dirname "$0")/streams.sh"
n=${SUITE_SHARDS:-4}
best=$("$BIN/sgn-study" best "$dir")
out=$dir/best.json
carried "$out" "$best" && exit 0
only=${BEST_STREAMS_ONLY:-0}
if [ "$best" = "$dir/model.sgn" ]; then
	[ "$only" = 1 ] && exit 0
	"$BIN/sgn-study" only autoattack "$dir/final.json" >"$out.tmp"
else
	keep_streams "$dir/best" "$best"
	streams=()
	for i in ${BEST_SHARDS:-0}; do
		stream=$dir/best/autoattack-$i-of-$n.arrow
		if [ ! -f "$stream" ]; then
			start=$(date +%s.%N)
			"$BIN/sgn-attack" -eps "$eps" -suite standard -steps "$steps" -queries "${SUITE_QUERIES:-5000}" -shard "$i/$n" \
				-model "$best" -data "$test" -o "$stream" 2>>"$dir/best/log" ||
				{ tail -n 3 "$dir/best/log" >&2; exit 1; }
			record_seconds "$stream.seconds" "$start"
		fi
		streams+=("$stream")
	done
	[ "$only" = 1 ] && exit 0
	"$BIN/sgn-score" -json "${streams[@]}" >"$dir/best/score.json"
	seconds=$(sum_seconds "${streams[@]/%/.seconds}")
	"$BIN/sgn-study" point -model "$best" -score "$dir/best/score.json" -seconds "$seconds" >"$out.tmp"
fi
mv "$out.tmp" "$out"
carry "$out"
