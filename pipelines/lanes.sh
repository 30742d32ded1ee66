# lanes.sh, sourced by final.sh and best.sh: commands run LANES at a time
# (2 where there are two cores or more), each with GOMAXPROCS cores/LANES.
# Alone on two threads an attack keeps them about 1.7 busy (its steps have
# serial parts, as the tools' CPU time against wall time shows); two on one
# thread each keep both busy, and spend no more CPU time for it (an
# APGD-CE attack on an SGN: 9.3-10.5 s of CPU on one thread, 9.0-9.5 s on
# two; its output is the same, byte for byte). A long attack is split into
# lane_split sub-shards (test images I+kN of N·lane_split, for k <
# lane_split), which sgn-score joins again; the split is fixed, not the
# lane count, because an attack's random starts depend on how the examples
# are batched, and the figures must not depend on the machine.

lane_split=2
lanes=${LANES:-$(($(nproc) >= 2 ? 2 : 1))}
lane_threads=$(($(nproc) / lanes > 0 ? $(nproc) / lanes : 1))
lane_pids=()
trap '[ ${#lane_pids[@]} = 0 ] || kill "${lane_pids[@]}" 2>/dev/null; exit 143' TERM
trap '[ ${#lane_pids[@]} = 0 ] || kill "${lane_pids[@]}" 2>/dev/null; exit 130' INT

# lane_reap LOG: wait for one running command to end; when it failed, stop
# the others, show the end of LOG and exit.
lane_reap() {
	local k p status
	while :; do
		for k in "${!lane_pids[@]}"; do
			p=${lane_pids[$k]}
			kill -0 "$p" 2>/dev/null && continue
			status=0
			wait "$p" || status=$?
			unset "lane_pids[$k]"
			if [ "$status" != 0 ]; then
				[ ${#lane_pids[@]} = 0 ] || kill "${lane_pids[@]}" 2>/dev/null || true
				wait || true
				tail -n 3 "$1" >&2
				exit 1
			fi
			return
		done
		sleep 1
	done
}

# lane LOG CMD...: run CMD in the next free lane, its stderr to LOG.
lane() {
	local log=$1; shift
	[ ${#lane_pids[@]} -lt "$lanes" ] || lane_reap "$log"
	GOMAXPROCS=$lane_threads "$@" 2>>"$log" &
	lane_pids+=($!)
}

# lanes_wait LOG: wait for every command; exit if one failed.
lanes_wait() {
	while [ ${#lane_pids[@]} -gt 0 ]; do lane_reap "$1"; done
}
