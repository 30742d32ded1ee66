#!/usr/bin/env bash
# job.sh CELLS_MK STATE [VAR=VALUE...] TARGET...: the body of every Slurm
# job of a study (slurm/run submits it). It runs make -f CELLS_MK with the
# study's variables on the job's targets, so make skips what is done; in a
# job array, a target @FILE stands for the targets on line
# SLURM_ARRAY_TASK_ID+1 of FILE (commas separate them). STATE/JOB says how
# the job ended, for slurm/run's report: running, exit N, stopped (near its
# time limit) or terminated.
set -euo pipefail

# Signals first, so that none arrives before its handler. SIGUSR1 comes
# from sbatch --signal=B:USR1@SECONDS, before the time limit: the sgn tools
# get SIGTERM (sgn-train saves its checkpoint) and make ends as on any
# failure. SIGTERM is Slurm's own, at the time limit or on scancel, sent to
# every process of the job with SIGKILL KillWait seconds later: make and
# its shells end at once, and this script must outlive the sgn tools, or
# Slurm may kill them with it before sgn-train has saved.
stop=0 term=0
# tools: the PIDs of the sgn tools in this job (the process group or
# session this script leads; orphaned tools are no longer its
# descendants), but for zombies: those have finished.
tools() {
	ps -e -o pid=,pgid=,sid=,stat=,comm= |
		awk -v me=$$ '($2 == me || $3 == me) && $4 !~ /^Z/ && $5 ~ /^sgn-/ { print $1 }'
}
trap 'stop=1; kill -TERM $(tools) 2>/dev/null || true' USR1
trap 'term=1' TERM

mk=$1 state=$2
shift 2
args=()
for a in "$@"; do
	case $a in
	@*)
		line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "${a#@}")
		IFS=', ' read -ra t <<<"$line"
		args+=("${t[@]}") ;;
	*) args+=("$a") ;;
	esac
done
id=$SLURM_JOB_ID
[ -z "${SLURM_ARRAY_JOB_ID:-}" ] || id=${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID
marker=$state/$id
echo "running on $(hostname) since $(date -Is)" >"$marker"
echo "job.sh: job $id: make ${args[*]}"

# sbatch passes on the submitting shell's environment; a parent make's
# flags (its jobserver above all) mean nothing here.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
# The Go runtime collects its garbage to stay under four fifths of the
# job's memory (the rest is for what it does not count) rather than grow
# until Slurm kills the job.
if [ -z "${GOMEMLIMIT:-}" ] && [ -n "${SLURM_MEM_PER_NODE:-}" ]; then
	export GOMEMLIMIT=$((SLURM_MEM_PER_NODE * 4 / 5))MiB
fi
cd "$(dirname "$mk")"
make --no-print-directory -f "$mk" "${args[@]}" &
pid=$!

# wait returns early when a trapped signal arrives; wait again until make
# has ended. Then wait for the sgn tools it started: Slurm's SIGTERM may
# end make before it reaches this script, while sgn-train is still saving.
rc=0
while :; do
	wait "$pid" && rc=0 || rc=$?
	kill -0 "$pid" 2>/dev/null || break
done
while [ -n "$(tools)" ]; do sleep 0.2; done
if [ "$term" = 1 ]; then
	echo terminated >"$marker"
	echo "job.sh: job $id terminated by SIGTERM" >&2
	exit 143
fi
if [ "$stop" = 1 ]; then
	echo stopped >"$marker"
	echo "job.sh: job $id stopped near its time limit" >&2
	exit 1
fi
echo "exit $rc" >"$marker"
exit "$rc"
