#!/usr/bin/env bash
# calibrate.sh STUDY_FILE DATASET EPS DIR OUT: what one training step of
# each method of a study costs on this machine, all measured in one run,
# written to OUT (sgn-study calibration). A study's cells train on
# whatever machines its sessions get; the report turns each method's
# steps to a level into time at these costs, to compare methods as if
# they had trained on one machine.
#
# Each method of the headline and baseline rows trains with its first
# row's flags for two epochs of CALIBRATE_N (2,560) of the study's
# training images, 20 steps each; its cost is the second epoch's mean
# step (the first pays for start-up). Run it on a quiet machine: on 2
# cores about 5 minutes, most of it PGD-AT and TRADES.
#
# With CALIBRATE_WITH=pytorch each method's step is timed in PyTorch
# instead (pipelines/torch/step_cost.py: the same step on random images,
# 15 steps after 5), installing Debian's python3-torch when missing;
# about 10 minutes on 2 cores.
set -euo pipefail
study=$1 dataset=$2 eps=$3 dir=$4 out=$5
: "${BIN:?BIN names the directory of the sgn tools}"
with=${CALIBRATE_WITH:-sgn}
case $with in
sgn) ;;
pytorch) . "$(dirname "$0")/need-torch.sh" ;;
*) echo "calibrate.sh: CALIBRATE_WITH=$with: want sgn or pytorch" >&2; exit 2 ;;
esac
rm -rf "$dir" && mkdir -p "$dir"
if [ "$with" = sgn ]; then "$BIN/sgn-fetch" -limit "${CALIBRATE_N:-2560}" "$dataset" >"$dir/train.arrow"; fi
declare -A seen=()
logs=()
while IFS=$'\t' read -r cell _ method role _ _ _ _ flags; do
	case $cell in '#'* | '') continue ;; esac
	case $role in headline | baseline) ;; *) continue ;; esac
	[ -n "${seen[$method]:-}" ] && continue
	seen[$method]=1
	echo "calibrate: $method ($flags, $with)" >&2
	# shellcheck disable=SC2086 # the study's flags are words
	if [ "$with" = pytorch ]; then
		# OpenBLAS on one thread under torch's two, as bench.sh runs it.
		env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$PY" "$(dirname "$0")/torch/step_cost.py" \
			-dataset "$dataset" -eps "$eps" $flags >"$dir/$method.jsonl" 2>>"$dir/log"
	else
		"$BIN/sgn-train" -data "$dir/train.arrow" -eps "$eps" -seed 1 -epochs 2 -log "$dir/$method.jsonl" -o "$dir/model.sgn" $flags 2>>"$dir/log"
	fi || { tail -n 3 "$dir/log" >&2; exit 1; }
	logs+=("$method=$dir/$method.jsonl")
done <"$study"
[ ${#logs[@]} -gt 0 ] || { echo "calibrate.sh: $study has no headline or baseline rows" >&2; exit 1; }
"$BIN/sgn-study" calibration "${logs[@]}" >"$out.tmp"
mv "$out.tmp" "$out"
echo "calibrate: $out" >&2
