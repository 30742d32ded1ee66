#!/usr/bin/env bash
# bench.sh — the benchmark workload (docs/design.md) timed in Go (shared/engine/bench_test.go).
#
#   bash pipelines/bench.sh             one JSON line of median ms per op:
#       {"train_step_ms":..,"pgd10_ms":..,"double_backprop_ms":..,"sgn_step_ms":..}
#   bash pipelines/bench.sh --compare   also runs pipelines/bench_torch.py
#       (installing Debian's python3-torch if needed) and prints a table of
#       ours against PyTorch.
#   --cifar   adds a training step of cifar-cnn and of preact-resnet18 on
#       CIFAR-shaped data (cifar_cnn_step_ms, preact_resnet18_step_ms).
#
# Each benchmark runs BENCHTIME (5x) iterations COUNT (3) times on 2 CPUs and
# the median of the COUNT per-op means is reported. The raw `go test` output
# and the load average go to stderr: figures taken on a busy machine are not
# comparable.
set -euo pipefail

compare=0
cifar=0
for arg in "$@"; do
	case "$arg" in
	--compare) compare=1 ;;
	--cifar) cifar=1 ;;
	-h | --help)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument $arg (have --compare, --cifar)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-5x}
COUNT=${COUNT:-3}

load() { echo "bench.sh: $1: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2; }

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

load "go benchmarks start"
"$GO" test -run '^$' -bench 'TrainStep|PGD10|DoubleBackprop|SGNStep' \
	-benchtime "$BENCHTIME" -count "$COUNT" -cpu 2 ./shared/engine | tee "$raw" >&2
if [ "$cifar" = 1 ]; then
	"$GO" test -run '^$' -bench 'CIFARCNNStep|PreActResNet18Step' \
		-benchtime "${CIFAR_BENCHTIME:-3x}" -count "$COUNT" -cpu 2 ./shared/engine | tee -a "$raw" >&2
fi
load "go benchmarks end"

# Median over the runs of each benchmark's "ms/op" metric.
ours=$(awk -v cifar="$cifar" '
	/^Benchmark/ {
		name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 2; i <= NF; i++) if ($i == "ms/op") v[name] = v[name] " " $(i-1)
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
	}' "$raw")
echo "$ours"
if grep -q null <<<"$ours"; then
	echo "bench.sh: some benchmark reported no ms/op" >&2
	exit 1
fi

[ "$compare" = 1 ] || exit 0

. pipelines/need-torch.sh # sets PY, installs python3-torch and OpenBLAS if missing
load "pytorch start"
# The peer runs as fast as it can here: without this workplace's
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (meant for old OpenBLAS builds), and
# with OpenBLAS single-threaded, since torch already runs its ops on its
# own two threads and a second pool of BLAS threads on the same two cores
# made it slower and erratic (train step 55 ms against 70-113 ms).
theirs=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$PY" pipelines/bench_torch.py --runs "${TORCH_RUNS:-15}" $([ "$cifar" = 1 ] && echo --cifar))
load "pytorch end"
echo "$theirs"

"$PY" - "$ours" "$theirs" <<'EOF'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rows = [("train step", "train_step_ms"), ("PGD-10", "pgd10_ms"),
        ("double backprop", "double_backprop_ms"), ("SGN step", "sgn_step_ms"),
        ("cifar-cnn step", "cifar_cnn_step_ms"), ("resnet18 step", "preact_resnet18_step_ms")]
print(f"PyTorch {theirs.get('torch', '?')}, {theirs.get('threads', '?')} threads, BLAS {theirs.get('blas', '?')}")
print(f"{'workload':<16} {'ours (ms)':>10} {'PyTorch (ms)':>13} {'ours/PyTorch':>13}")
for name, key in rows:
    if key not in ours and key not in theirs:
        continue  # a row neither side was asked for
    if ours.get(key) is None or theirs.get(key) is None:
        sys.exit(f"bench.sh: {key} missing from {'ours' if ours.get(key) is None else 'PyTorch'}")
    a, b = float(ours[key]), float(theirs[key])
    print(f"{name:<16} {a:>10.1f} {b:>13.1f} {a / b:>13.2f}")
EOF
