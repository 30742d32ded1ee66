#!/usr/bin/env bash
# status.sh CELL RESULT DIR CARRY STEPS KIND=UNIT...: one line of a study's
# status (cells.mk's target status): the cell is done when its RESULT
# exists; else how far its training has come (its last numbered
# checkpoint of STEPS optimiser steps in DIR) and, per KIND of unit
# (curve, final, sweep, best), how many of its UNITs are done, here in DIR
# or carried in CARRY from an earlier run (carry.sh).
set -euo pipefail
cell=$1 result=$2 dir=$3 carry=$4 steps=$5
shift 5
if [ -f "$result" ]; then
	printf '%-26s done\n' "$cell"
	exit 0
fi
if [ -f "$dir/trained" ]; then
	training=trained
else
	last=
	[ -d "$dir" ] && last=$(find "$dir" -maxdepth 1 -name 'model-step*.sgn' | sort | tail -n 1)
	if [ -n "$last" ]; then
		step=${last##*model-step}
		training="step $((10#${step%.sgn}))/$steps"
	elif [ -f "$dir/model.sgn" ]; then
		training=started
	else
		training="to run"
	fi
fi
declare -A done total
kinds=()
for arg in "$@"; do
	kind=${arg%%=*} unit=${arg#*=}
	[ -n "${total[$kind]+set}" ] || { kinds+=("$kind"); total[$kind]=0; done[$kind]=0; }
	total[$kind]=$((total[$kind] + 1))
	if [ -f "$unit" ] || [ -f "$carry/$(basename "$unit")" ]; then
		done[$kind]=$((done[$kind] + 1))
	fi
done
line=$(printf '%-26s %-16s' "$cell" "$training")
for kind in "${kinds[@]}"; do
	line+=$(printf ' %s %d/%d' "$kind" "${done[$kind]}" "${total[$kind]}")
done
echo "$line"
