#!/usr/bin/env bash
# bench.sh — the benchmark workload (docs/design.md) timed in Go (shared/engine/bench_test.go).
#
#   bash pipelines/bench.sh             the machine ("# " lines), then one
#       JSON line of median ms per op:
#       {"train_step_ms":..,"pgd10_ms":..,"double_backprop_ms":..,"sgn_step_ms":..}
#   bash pipelines/bench.sh --compare   also runs pipelines/bench_torch.py
#       (installing Debian's python3-torch if needed) and prints a table of
#       ours against PyTorch.
#   --cifar   adds a training step of cifar-cnn and of preact-resnet18 on
#       CIFAR-shaped data (cifar_cnn_step_ms, preact_resnet18_step_ms).
#   --avx2    runs sgn with SGN_KERNELS=avx2: the 6x16 AVX2 kernels even on
#       a CPU with AVX-512, to measure what an AVX2-only CPU runs (PyTorch
#       runs as it is).
#   --machine prints the machine lines alone, without timing anything.
#
# The machine lines give the CPU, the cores, the kernels sgn chose, the
# load average and the busiest other processes when the benchmarks
# started, the CPU time the Go benchmarks took (user and system) and the
# bytes they allocated per op: figures taken on a busy machine are not
# comparable. The timing runs in COUNT (3) rounds; in each, every Go
# benchmark times BENCHTIME (5x) calls on 2 CPUs (CIFAR_BENCHTIME, 3x, for
# the CIFAR models) and, with --compare, PyTorch then times TORCH_RUNS (5)
# calls of each workload. Both sides take the median call of a round and
# report the median over the rounds: one statistic for both, and rounds
# that alternate, so that a machine that slows down for a minute (a
# neighbour on a shared host) slows both sides alike. The table also gives
# the range of the rounds' ratios. The raw `go test` output goes to stderr.
set -euo pipefail

compare=0
cifar=0
machine_only=0
for arg in "$@"; do
	case "$arg" in
	--compare) compare=1 ;;
	--cifar) cifar=1 ;;
	--avx2) export SGN_KERNELS=avx2 ;;
	--machine) machine_only=1 ;;
	-h | --help)
		sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument $arg (have --compare, --cifar, --avx2, --machine)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-5x}
COUNT=${COUNT:-3}

load() { echo "bench.sh: $1: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
raw=$tmp/raw

# The machine as the benchmarks find it, taken before they start.
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
cores=$(nproc 2>/dev/null || echo "?")
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
# The busiest processes, this script's own ps excepted.
busy=$(ps -eo pcpu=,pid=,etime=,args= --sort=-pcpu 2>/dev/null | awk -v self=$$ '$2 != self' | head -5 | cut -c1-150 || true)

# cpu_seconds prints the user and system CPU seconds of this shell's
# finished children, from the times builtin, run in this shell (in a
# pipeline or $(...) it would report a subshell's).
cpu_seconds() {
	times >"$tmp/times"
	tail -1 "$tmp/times" | awk '{
		for (i = 1; i <= 2; i++) { split($i, t, "m"); sub(/s$/, "", t[2]); s[i] = t[1] * 60 + t[2] }
		printf "%.2f %.2f\n", s[1], s[2] }'
}

# machine prints the "# " lines; the kernels come from BenchmarkKernels'
# log in $raw, the CPU time and allocations from $1 (user and system
# seconds) and $raw.
machine() {
	local kernels
	kernels=$(awk '/sgn kernels: / { sub(/.*sgn kernels: /, ""); print; exit }' "$raw")
	echo "# cpu: ${cpu_model:-unknown}; cores: $cores; sgn kernels: ${kernels:-unknown}${SGN_KERNELS:+ (SGN_KERNELS=$SGN_KERNELS)}"
	echo "# load average at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# busiest processes at start (%CPU over their lifetime, PID, elapsed, command):"
	sed 's/^ */#   /' <<<"$busy"
	[ -n "${1:-}" ] || return 0
	awk -v cpu="$1" '
		BEGIN { split(cpu, c, " "); t = c[1] + c[2]
			printf "# go benchmarks, set-up included: user %.1f s, system %.1f s (%.0f%% system)\n", c[1], c[2], (t > 0 ? 100 * c[2] / t : 0) }
		/^Benchmark/ && !/Kernels/ {
			name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
			for (i = 2; i <= NF; i++) {
				if ($i == "B/op") { if (!(name in b)) order[++n] = name; b[name] = b[name] " " $(i-1) }
				if ($i == "sys-%") sys[name] = sys[name] " " $(i-1)
			}
		}
		function median(s,    a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		END {
			if (n == 0) exit
			printf "# allocated per op (MB, median):"
			for (j = 1; j <= n; j++) printf " %s %.2f", order[j], median(b[order[j]]) / 1e6
			printf "\n"
			# The timed calls alone, without each process compiling its
			# programs and faulting in their buffers first.
			printf "# system share of the timed calls (%%, median):"
			for (j = 1; j <= n; j++) if (order[j] in sys) printf " %s %.1f", order[j], median(sys[order[j]])
			printf "\n"
		}' "$raw"
}

# The test binary is built first, so that the CPU time counts the
# benchmarks alone, not the compiler.
"$GO" test -c -o "$tmp/engine.test" ./shared/engine
# Benchmarks run in their package's directory, as under go test; each call
# of bench is one round's run of the benchmarks matching $1.
bench() {
	(cd shared/engine && "$tmp/engine.test" -test.run '^$' -test.bench "$1" -test.benchmem \
		-test.benchtime "$2" -test.count 1 -test.cpu 2) | tee -a "$raw" "$tmp/round" >&2
}

if [ "$machine_only" = 1 ]; then
	bench '^BenchmarkKernels$' 1x >/dev/null 2>&1
	machine
	exit 0
fi

# ours_json prints one JSON line of the median over the "p50-ms/op"
# figures (a run's median call) of each benchmark in the go test output $1.
ours_json() {
	awk -v cifar="$cifar" '
	/^Benchmark/ {
		name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 2; i <= NF; i++) if ($i == "p50-ms/op") v[name] = v[name] " " $(i-1)
	}
	function median(s,    a, n, i, j, t) {
		n = split(s, a, " ")
		if (n == 0) return "null"
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	END {
		printf "{\"train_step_ms\":%s,\"pgd10_ms\":%s,\"double_backprop_ms\":%s,\"sgn_step_ms\":%s",
			median(v["TrainStep"]), median(v["PGD10"]), median(v["DoubleBackprop"]), median(v["SGNStep"])
		if (cifar == 1)
			printf ",\"cifar_cnn_step_ms\":%s,\"preact_resnet18_step_ms\":%s",
				median(v["CIFARCNNStep"]), median(v["PreActResNet18Step"])
		printf "}\n"
	}' "$1"
}

if [ "$compare" = 1 ]; then
	. pipelines/need-torch.sh # sets PY, installs python3-torch and OpenBLAS if missing
fi

: >"$tmp/gocpu"
for round in $(seq "$COUNT"); do
	: >"$tmp/round"
	load "round $round of $COUNT: go benchmarks start"
	cpu_seconds >"$tmp/before"
	bench 'Kernels|TrainStep|PGD10|DoubleBackprop|SGNStep' "$BENCHTIME"
	if [ "$cifar" = 1 ]; then
		bench 'CIFARCNNStep|PreActResNet18Step' "${CIFAR_BENCHTIME:-3x}"
	fi
	cpu_seconds >"$tmp/after"
	load "round $round of $COUNT: go benchmarks end"
	cat "$tmp/before" "$tmp/after" | awk 'NR == 1 { u = $1; s = $2 } NR == 2 { print $1 - u, $2 - s }' >>"$tmp/gocpu"
	ours_json "$tmp/round" >>"$tmp/ours.jsonl"
	[ "$compare" = 1 ] || continue
	# The peer runs as fast as it can here: without this workplace's
	# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (meant for old OpenBLAS builds),
	# and with OpenBLAS single-threaded, since torch already runs its ops
	# on its own two threads and a second pool of BLAS threads on the same
	# two cores made it slower and erratic (train step 55 ms against
	# 70-113 ms).
	load "round $round of $COUNT: pytorch start"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$PY" pipelines/bench_torch.py \
		--runs "${TORCH_RUNS:-5}" $([ "$cifar" = 1 ] && echo --cifar) | tee -a "$tmp/theirs.jsonl" >&2
	load "round $round of $COUNT: pytorch end"
done
machine "$(awk '{ u += $1; s += $2 } END { print u, s }' "$tmp/gocpu")"

ours=$(ours_json "$raw")
echo "$ours"
if grep -q null <<<"$ours"; then
	echo "bench.sh: some benchmark reported no p50-ms/op" >&2
	exit 1
fi

[ "$compare" = 1 ] || exit 0

"$PY" - "$tmp/ours.jsonl" "$tmp/theirs.jsonl" <<'EOF'
import json, statistics, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
theirs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
rows = [("train step", "train_step_ms"), ("PGD-10", "pgd10_ms"),
        ("double backprop", "double_backprop_ms"), ("SGN step", "sgn_step_ms"),
        ("cifar-cnn step", "cifar_cnn_step_ms"), ("resnet18 step", "preact_resnet18_step_ms")]
t0 = theirs[0]
keys = [k for _, k in rows if k in t0]
print(json.dumps({k: statistics.median(t[k] for t in theirs) for k in keys}
                 | {k: t0[k] for k in ("torch", "threads", "blas") if k in t0}))
print(f"PyTorch {t0.get('torch', '?')}, {t0.get('threads', '?')} threads, BLAS {t0.get('blas', '?')}; "
      f"medians over {len(ours)} alternating rounds")
print(f"{'workload':<16} {'ours (ms)':>10} {'PyTorch (ms)':>13} {'ours/PyTorch':>13} {'rounds':>12}")
for name, key in rows:
    if key not in ours[0] and key not in t0:
        continue  # a row neither side was asked for
    missing = [side for side, runs in (("ours", ours), ("PyTorch", theirs)) if any(r.get(key) is None for r in runs)]
    if missing:
        sys.exit(f"bench.sh: {key} missing from {missing[0]}")
    a = statistics.median(float(o[key]) for o in ours)
    b = statistics.median(float(t[key]) for t in theirs)
    per = [float(o[key]) / float(t[key]) for o, t in zip(ours, theirs)]
    print(f"{name:<16} {a:>10.1f} {b:>13.1f} {a / b:>13.2f} {min(per):>5.2f}-{max(per):.2f}")
EOF
