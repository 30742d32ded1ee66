#!/usr/bin/env bash
# test.sh: RUNNER=slurm against a real Slurm cluster (make test-slurm).
#
# Runs the tiny study (studies/tiny.tsv) with RUNNER=local, then starts a
# single-node cluster on this machine (cluster.sh: Debian's slurmctld,
# slurmd and munge, installed with apt-get when missing; 127.0.0.1 only)
# and runs it again through Slurm. Mid-run, the sgn-1 training gets the
# warning Slurm sends before a time limit and stops with its checkpoint,
# and a final-evaluation (attack) job is killed with scancel; both are
# reported, and resubmitting completes the study: the training resumes,
# the attack streams already written are kept. The report must equal the
# local one but for times and checkpoint hashes (the checkpoints record
# their training time), and every figure of every cell must be the same.
# The daemons are stopped on the way out, whatever happens.
#
# It needs root (slurmd starts jobs as their users); without root, or
# without the packages and a way to install them, it says SKIP and exits
# 0. KEEP=1 keeps its temporary directory. Run it under nice to leave the
# CPU to others: the daemons, and so the jobs, run at nice 19 anyway.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
study=tiny

skip() {
	echo "test-slurm: SKIP: $*" >&2
	exit 0
}
fail() {
	echo "test-slurm: FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root to start munged, slurmctld and slurmd (slurmd starts jobs as their users)"
missing=()
for p in slurmctld slurmd slurm-client munge jq; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
	echo "test-slurm: installing ${missing[*]}"
	# policy-rc.d or not, the daemons this test uses are its own.
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "${missing[@]}"; } >/dev/null ||
		skip "apt-get could not install ${missing[*]}"
fi

tmp=$(mktemp -d /tmp/sgn-test-slurm.XXXXXX)
chmod 0711 "$tmp" # munged runs as user munge and must reach its directory
cleanup() {
	bash "$here/cluster.sh" down "$tmp/cluster" || true
	if [ -n "${KEEP:-}" ]; then echo "test-slurm: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { s = b - a; printf "%d min %02d s", s / 60, s % 60 }'; }
cores=$(nproc)

# The reference: the same study run by make here, a job per core.
echo "test-slurm: $study with RUNNER=local (make -j$cores)"
t0=$(now)
make -C "$root/pipelines" --no-print-directory -j"$cores" "$study" OUT="$tmp/local" RESULTS="$tmp/local-results" \
	>"$tmp/local.log" 2>&1 || { tail -n 20 "$tmp/local.log"; fail "the local run failed"; }
local_time=$(since "$t0")
echo "test-slurm: local run: $local_time"

echo "test-slurm: starting a single-node cluster in $tmp/cluster"
bash "$here/cluster.sh" up "$tmp/cluster"
. "$tmp/cluster/env"
export SLURM_CONF
sinfo

out=$tmp/slurm/$study
slurm() {
	make -C "$root/pipelines" --no-print-directory "$study" RUNNER=slurm OUT="$tmp/slurm" RESULTS="$tmp/slurm-results" SLURM_POLL=2 "$@"
}
echo "test-slurm: $study with RUNNER=slurm"
t0=$(now)
slurm | tee "$tmp/submit1.log"
jobs1=$(wc -l <"$out/slurm/jobs.tsv")

# The job ids and task numbers of the two jobs to interrupt.
job_of() { awk -F'\t' -v n="sgn-$study-$1" '$2 == n { print $1 }' "$out/slurm/jobs.tsv"; }
task_of() { grep -n -F "$2" "$out/slurm/tasks/$1" | cut -d: -f1 | awk '{ print $1 - 1 }'; }
train=$(job_of train)_$(task_of train "$out/sgn-1/trained")
attack=$(job_of eval-plain-1)_$(task_of eval-plain-1 "$out/plain-1/final.json")
state() { squeue -h -j "$1" -o %T 2>/dev/null || true; }

# Once sgn-1 has written its step-8 checkpoint, the warning before a time
# limit (sbatch --signal=B:USR1@...); once plain-1's final evaluation has
# finished its first attack, scancel (SIGTERM, then SIGKILL).
stopped= killed=
while [ -z "$stopped" ] || [ -z "$killed" ]; do
	if [ -z "$stopped" ] && [ -f "$out/sgn-1/model-step0000008.sgn" ]; then
		[ "$(state "$train")" = RUNNING ] || fail "job $train (sgn-1's training) ended before it could be stopped"
		scancel --batch --signal=USR1 "$train"
		stopped=1
		echo "test-slurm: sent job $train (sgn-1's training) the warning before a time limit"
	fi
	if [ -z "$killed" ] && [ -f "$out/plain-1/final/apgd-ce.arrow" ]; then
		[ "$(state "$attack")" = RUNNING ] || fail "job $attack (plain-1's final evaluation) ended before it could be killed"
		scancel "$attack"
		killed=1
		echo "test-slurm: killed job $attack (plain-1's final evaluation) after its first attack"
	fi
	sleep 0.2
done
kept=$(stat -c %Y "$out/plain-1/final/apgd-ce.arrow")

# The first submission must end reporting both, and what they held back.
echo "test-slurm: waiting for the first submission"
if slurm SLURM_WAIT=1 | tee "$tmp/wait1.log"; then fail "the first submission succeeded despite the interrupted jobs"; fi
grep -q "STOPPED  job $train " "$tmp/wait1.log" || fail "no report of the stopped training job $train"
grep -q "KILLED   job $attack .*CANCELLED" "$tmp/wait1.log" || fail "no report of the killed attack job $attack"
grep -q "NOT RUN .*sgn-$study-report" "$tmp/wait1.log" || fail "the report job ran despite the failures"
grep -q 'interrupted .*checkpoint saved' "$out/sgn-1/train.txt" || fail "sgn-1's training did not save a checkpoint when stopped"

echo "test-slurm: resubmitting"
slurm SLURM_WAIT=1 | tee "$tmp/submit2.log" || fail "the resubmitted study did not complete"
slurm_time=$(since "$t0")
jobs2=$(wc -l <"$out/slurm/jobs.tsv")
grep -q "sgn-1 resumes from its checkpoint" "$tmp/submit2.log" || fail "sgn-1's training did not resume"
[ "$(stat -c %Y "$out/plain-1/final/apgd-ce.arrow")" = "$kept" ] || fail "plain-1's first attack was run again"
slurm | grep -q "nothing to do" || fail "a third submission found something to do"

# Same figures: every accuracy of every cell, and the report but for the
# durations and checkpoint hashes. (Not the training log's loss and
# accuracy: after a resume they cover only the rest of the epoch.)
figures() {
	local f
	for f in "$1"/cells/*.json; do
		jq -S -c 'def pt: del(.train_seconds, .eval_seconds);
			{cell: .row.cell, recipe, curve: [.curve[] | pt], final: (.final | pt), sweep: [(.sweep // [])[] | pt]}' "$f"
	done
}
mask() { sed -E 's/\b([0-9]+[hm])*[0-9]+(\.[0-9]+)?(s|ms)\b/T/g; s/`[0-9a-f]{12}`/`SHA`/g' "$1"; }
figures "$tmp/local-results/$study" >"$tmp/local.figures"
figures "$tmp/slurm-results/$study" >"$tmp/slurm.figures"
cells=$(grep -c -v -e '^#' -e '^$' "$root/pipelines/studies/$study.tsv")
[ "$(wc -l <"$tmp/local.figures")" = "$cells" ] || fail "the local run has not every cell's result"
cmp -s "$tmp/local.figures" "$tmp/slurm.figures" || { diff "$tmp/local.figures" "$tmp/slurm.figures" | head; fail "the figures differ from RUNNER=local's"; }
diff <(mask "$tmp/local-results/$study/report.md") <(mask "$tmp/slurm-results/$study/report.md") ||
	fail "the report differs from RUNNER=local's"

echo "test-slurm: the jobs, as Slurm's completion log has them (sacct -c):"
sacct -c -o JobID,JobName%28,State,ExitCode,Start,End 2>/dev/null
echo "test-slurm: PASS: $cells cells, the same figures as RUNNER=local;" \
	"$jobs1 jobs submitted, then $jobs2 to finish after a stopped training and a killed attack;" \
	"wall time $slurm_time on Slurm (both submissions), $local_time locally"
