#!/usr/bin/env bash
# job.sh CELLS_MK STATE [VAR=VALUE...] TARGET...: the body of every Slurm
# job of a study (slurm/run submits it). It runs make -f CELLS_MK with the
# study's variables on the job's targets, so make skips what is done; in a
# job array, a target @FILE stands for the targets on line
# SLURM_ARRAY_TASK_ID+1 of FILE (commas separate them). STATE/JOB says how
# the job ended, for slurm/run's report: running, exit N, or terminated.
set -euo pipefail
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
cd "$(dirname "$mk")"
make --no-print-directory -f "$mk" "${args[@]}" &
pid=$!

# At its time limit, or on scancel, Slurm sends SIGTERM to every process of
# the job and SIGKILL KillWait seconds later. sgn-train saves a checkpoint
# on SIGTERM, but make and its shells end at once; the job must outlive
# them until the sgn tools have finished, or Slurm may reap those with it.
term=0
trap 'term=1' TERM
rc=0
wait "$pid" || rc=$?
if [ "$term" = 1 ]; then
	wait "$pid" || true
	while pgrep -g $$ '^sgn-' >/dev/null; do sleep 0.2; done
	echo terminated >"$marker"
	echo "job.sh: job $id terminated by SIGTERM" >&2
	exit 143
fi
echo "exit $rc" >"$marker"
exit "$rc"
