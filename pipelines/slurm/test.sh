#!/usr/bin/env bash
# test.sh: RUNNER=slurm against a real Slurm cluster (make test-slurm).
#
# Runs the tiny study (studies/tiny.tsv) with RUNNER=local, then starts a
# single-node cluster on this machine (cluster.sh: Debian's slurmctld,
# slurmd and munge, installed with apt-get when missing; 127.0.0.1 only)
# and runs it again through Slurm. Mid-run, the sgn-1 training gets the
# warning Slurm sends before a time limit and stops with its checkpoint;
# resubmitted, it resumes, and its final-evaluation (attack) job is killed
# with scancel after its first attack. Each is reported, and resubmitting
# completes the study, keeping the attack stream already written. The
# report must equal the local one but for times and checkpoint hashes (the
# checkpoints record their training time), and every figure of every cell
# must be the same.
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

# The tools first, so that neither run's time includes their build.
make -C "$root/pipelines" --no-print-directory tools >"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log"; fail "the build failed"; }

# The reference: the same study run by make here, a job per core.
echo "test-slurm: $study with RUNNER=local (make -j$cores)"
t0=$(now)
make -C "$root/pipelines" --no-print-directory -j"$cores" "$study" OUT="$tmp/local" RESULTS="$tmp/local-results" \
	>"$tmp/local.log" 2>&1 || { tail -n 20 "$tmp/local.log"; fail "the local run failed"; }
local_time=$(since "$t0")
echo "test-slurm: local run: $local_time"

# make status says every cell is done; without sgn-1's result and one of
# its final shards (here and carried), it names what is left.
status() {
	make -C "$root/pipelines" --no-print-directory status STUDY=$study OUT="$tmp/local" RESULTS="$tmp/local-results" 2>&1
}
n=$(grep -c -v -e '^#' -e '^$' "$root/pipelines/studies/$study.tsv")
[ "$(status | grep -c ' done$')" = "$n" ] || { status; fail "make status does not say every cell is done"; }
mv "$tmp/local-results/$study/cells/sgn-1.json" "$tmp/sgn-1.json"
mv "$tmp/local/$study/sgn-1/final-2-of-4.json" "$tmp/final-2-of-4.json"
line=$(status | grep '^sgn-1 ')
[[ $line =~ trained\ +curve\ ([0-9]+)/([0-9]+)\ final\ 3/4\ sweep\ 1/1\ best\ 1/1$ ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || fail "make status says '$line' of sgn-1 without its result and a shard"
mv "$tmp/sgn-1.json" "$tmp/local-results/$study/cells/sgn-1.json"
mv "$tmp/final-2-of-4.json" "$tmp/local/$study/sgn-1/final-2-of-4.json"

echo "test-slurm: starting a single-node cluster in $tmp/cluster"
bash "$here/cluster.sh" up "$tmp/cluster" || skip "could not start a cluster on this machine (the reason is above)"
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
jobs=$(wc -l <"$out/slurm/jobs.tsv")

# The job id and task number of a cell's training or evaluation target in
# the last submission, and its state.
job_of() { awk -F'\t' -v n="sgn-$study-$1" '$2 == n { print $1 }' "$out/slurm/jobs.tsv"; }
task_of() { grep -n -F "$2" "$out/slurm/tasks/$1" | cut -d: -f1 | awk '{ print $1 - 1 }'; }
state() { squeue -h -r -j "${1%_*}" -o '%K %T' 2>/dev/null | awk -v t="${1#*_}" '$1 == t { print $2 }' || true; }
# wait_queue: until Slurm holds none of the last submission's jobs.
wait_queue() {
	local ids q
	ids=$(cut -f1 "$out/slurm/jobs.tsv")
	while :; do
		q=$(squeue -h -o %F) || { sleep 2; continue; }
		grep -qxF "$ids" <<<"$q" || return 0
		sleep 2
	done
}
# until_file FILE JOB WHAT: wait for FILE, written by JOB (WHAT it is).
until_file() {
	local i=0
	while [ ! -f "$1" ]; do
		i=$((i + 1))
		if [ $((i % 10)) = 0 ] && [ -z "$(state "$2")" ] && [ ! -f "$1" ]; then
			fail "job $2 ($3) ended without writing $1"
		fi
		sleep 0.2
	done
}

# Once sgn-1 has written its first curve checkpoint (step 4 of 8,
# studies/tiny.tsv), the warning Slurm sends before a time limit (sbatch
# --signal=B:USR1@...): the training stops, saving its checkpoint.
train=$(job_of train)_$(task_of train "$out/sgn-1/trained")
until_file "$out/sgn-1/model-step0000004.sgn" "$train" "sgn-1's training"
[ "$(state "$train")" = RUNNING ] || fail "job $train (sgn-1's training) ended before it could be stopped"
scancel --batch --signal=USR1 "$train"
echo "test-slurm: sent job $train (sgn-1's training) the warning before a time limit; the queue then:"
squeue -o '%.10i %32j %.9T %.8M %.5C %R'

# The submission ends, and the next reports the stopped training and what
# it held back, and submits the rest: the training resumes from its
# checkpoint. (Waiting with SLURM_WAIT=1 would resubmit too, had every job
# already ended.)
wait_queue
echo "test-slurm: resubmitting"
slurm | tee "$tmp/submit2.log"
jobs="$jobs, $(wc -l <"$out/slurm/jobs.tsv")"
grep -q "STOPPED  job $train " "$tmp/submit2.log" || fail "no report of the stopped training job $train"
grep -q "NOT RUN .*sgn-$study-report" "$tmp/submit2.log" || fail "the report job ran despite the stopped training"
grep -q 'interrupted .*checkpoint saved' "$out/sgn-1/train.txt" || fail "sgn-1's training did not save a checkpoint when stopped"
grep -q "sgn-1 resumes from its checkpoint" "$tmp/submit2.log" || fail "sgn-1's training did not resume"

# Once the first shard of sgn-1's final evaluation has finished its first
# attack, scancel its job (SIGTERM, then SIGKILL).
first=$out/sgn-1/final/0-of-4/autoattack.arrow
attack=$(job_of eval-sgn-1)_$(task_of eval-sgn-1 "$out/sgn-1/final-0-of-4.json")
until_file "$first" "$attack" "sgn-1's final evaluation"
[ "$(state "$attack")" = RUNNING ] || fail "job $attack (sgn-1's final evaluation) ended before it could be killed"
scancel "$attack"
echo "test-slurm: killed job $attack (sgn-1's final evaluation) after its first attack"
kept=$(stat -c %Y "$first")

# The third submission reports the killed job and completes the study,
# keeping the attack stream written before the kill; a fourth has nothing
# to do.
wait_queue
echo "test-slurm: resubmitting"
slurm SLURM_WAIT=1 | tee "$tmp/submit3.log" || fail "the resubmitted study did not complete"
slurm_time=$(since "$t0")
jobs="$jobs, $(wc -l <"$out/slurm/jobs.tsv")"
grep -q "KILLED   job $attack .*CANCELLED" "$tmp/submit3.log" || fail "no report of the killed attack job $attack"
grep -q "NOT RUN .*sgn-$study-report" "$tmp/submit3.log" || fail "the report job ran despite the killed attack"
[ "$(stat -c %Y "$first")" = "$kept" ] || fail "sgn-1's first attack was run again"
slurm >"$tmp/submit4.log"
grep -q "nothing to do" "$tmp/submit4.log" || fail "a fourth submission found something to do"

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
	"$jobs jobs in the three submissions (a stopped training, a killed attack);" \
	"wall time $slurm_time on Slurm (all submissions), $local_time locally"
