#!/usr/bin/env bash
# follow.sh PID TEST EPS STEPS: from a cell's directory, while its
# training (process PID) runs, scores each numbered checkpoint
# (model-step*.sgn) as a curve point (point.sh: point-STEP.json, carried
# with CARRY) as soon as it exists, so that the curve is all but done when
# the training ends; then the checkpoints left, and it returns.
#
# cells.mk runs it under SCHED_IDLE (chrt --idle 0): it takes only the
# cycles the training leaves idle, about 15% of two cores while PGD-AT
# trains, which its curve needs most of; a point scored so records the
# wall time it took beside the training as its evaluation time. A point it
# fails to score is left to make, which scores it after the training.
set -u
pid=$1 test=$2 eps=$3 steps=$4
here=$(dirname "$0")
while :; do
	running=0
	kill -0 "$pid" 2>/dev/null && running=1
	scored=0
	for model in model-step*.sgn; do
		[ -f "$model" ] || continue
		step=${model#model-step}
		step=${step%.sgn}
		[ -f "point-$step.json" ] && continue
		bash "$here/point.sh" "$model" "$test" "$eps" "$steps" "point-$step.json" >/dev/null 2>>follow.log || exit 0
		scored=1
	done
	[ "$scored" = 1 ] && continue
	[ "$running" = 1 ] || exit 0
	sleep 15
done
