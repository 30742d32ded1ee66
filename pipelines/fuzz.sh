#!/usr/bin/env bash
# fuzz.sh — runs sgn's fuzz targets under a memory cap (make fuzz).
#
#   bash pipelines/fuzz.sh [TIME]          # every target, TIME each (default 30s)
#   bash pipelines/fuzz.sh TIME PKG TARGET # one target
#
# Each fuzz process (the coordinator and each worker) runs under
# `ulimit -v` (FUZZ_MEM_MB, default 4096 MB of address space), so an input
# that allocates gigabytes dies with "fatal error: out of memory" in its
# worker: the run fails and Go records the input under PKG/testdata/fuzz,
# instead of growing until the kernel kills it (or something else) for
# want of memory. GOMEMLIMIT, a little under the cap, makes the garbage
# collector return the garbage of earlier inputs before the cap is reached,
# so that only an input whose own allocations are too large hits it. The
# targets also fail an input that allocates more than their own cap
# (runtime/metrics' allocated bytes), naming it, when the kernel would let
# it by.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
TIME=${1:-30s}
MEM=${FUZZ_MEM_MB:-4096}
# The Go runtime reserves about 1.5 GB of address space before a test
# allocates anything: the heap gets what is left.
export GOMEMLIMIT=$(( (MEM - 1536) * 3 / 4 ))MiB
targets=(
	"./format/stream FuzzReader"
	"./format/checkpoint FuzzDecode"
	"./format/safetensors FuzzDecode"
	"./shared/classifier FuzzLoad"
	"./shared/harness FuzzToolInputs"
)
if [ $# -ge 3 ]; then
	targets=("$2 $3")
fi
for t in "${targets[@]}"; do
	set -- $t
	echo "fuzz.sh: $2 in $1 for $TIME under ulimit -v ${MEM} MB, GOMEMLIMIT $GOMEMLIMIT" >&2
	# -parallel 1: one worker; the machine's other cores are for others.
	(ulimit -v $((MEM * 1024)) && "$GO" test -run '^$' -fuzz "^$2\$" -fuzztime "$TIME" -parallel 1 "$1")
done
