#!/usr/bin/env bash
# reference.sh — the README's reference runs and memory figures, timed.
#
#   bash pipelines/reference.sh      (or: make -C pipelines reference)
#
# On the first 10,000 MNIST training images: a plain madry-mnist model (1
# epoch) scored on the 10,000 test images; a PGD-7-trained one (eps 0.3, 3
# epochs) attacked with PGD-20 on 1,000 test images; then sgn-attack PGD-10
# over 1,000 and over all 10,000 test images, for its peak memory; the cost
# per step of SGN training; and a tool's start-up time. Everything lands in OUT (pipelines/out/reference);
# the summary, with wall times and peak resident memory from /usr/bin/time,
# is OUT/report.txt. About 2 minutes on 2 cores.
set -Eeuo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
OUT=${OUT:-pipelines/out/reference}
mkdir -p "$OUT"
report=$OUT/report.txt
: >"$report"

say() { echo "$*" | tee -a "$report"; }
start=$(date +%s)
fail() {
	echo "reference.sh: $*" >&2
	exit 1
}
trap 'fail "line $LINENO failed (logs in $OUT)"' ERR
[ -x /usr/bin/time ] || fail "needs /usr/bin/time (Debian package time)"

# timed NAME CMD...: runs CMD, its stderr to OUT/NAME.log, and sets T to
# its wall time in seconds and peak resident memory in MiB; a failed CMD
# stops the script with the end of its log.
timed() {
	local name=$1
	shift
	if ! /usr/bin/time -f '%e %M' -o "$OUT/$name.time" "$@" 2>"$OUT/$name.log"; then
		fail "$name failed: $(tail -n 1 "$OUT/$name.log")"
	fi
	T=$(awk '{printf "%.2f s, peak %d MiB", $1, $2/1024}' "$OUT/$name.time")
}

# field KEY FILE: the first numeric value of "KEY" in a JSON file.
field() { grep -o "\"$1\":[0-9.e+-]*" "$2" | head -1 | cut -d: -f2; }

# perstep LOG: the ms/step figure of sgn-train's last epoch line.
perstep() { grep -o '[0-9.]* ms/step' "$1" | tail -1; }

say "reference runs, $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$BIN/sgn-fetch" -limit 10000 -o "$OUT/train10k.arrows" mnist
"$BIN/sgn-fetch" -split test -o "$OUT/test.arrows" mnist
"$BIN/sgn-fetch" -split test -limit 1000 -o "$OUT/test1k.arrows" mnist

timed plain "$BIN/sgn-train" -epochs 1 -data "$OUT/train10k.arrows" -o "$OUT/plain.sgn"
"$BIN/sgn-score" -json -model "$OUT/plain.sgn" "$OUT/test.arrows" >"$OUT/plain.json"
say "plain, 1 epoch of 10,000: $T ($(perstep "$OUT/plain.log")); clean accuracy $(field accuracy "$OUT/plain.json") (n=10,000)"

timed pgd "$BIN/sgn-train" -adv pgd -eps 0.3 -steps 7 -eps-warmup 1 -epochs 3 -val 500 -data "$OUT/train10k.arrows" -o "$OUT/pgd.sgn"
"$BIN/sgn-attack" -pgd -steps 20 -eps 0.3 -model "$OUT/pgd.sgn" -data "$OUT/test1k.arrows" 2>"$OUT/pgd-attack.log" |
	"$BIN/sgn-score" -json >"$OUT/pgd.json"
say "PGD-7 training, 3 epochs of 10,000: $T ($(perstep "$OUT/pgd.log")); clean $(field clean_accuracy "$OUT/pgd.json"), PGD-20 $(field accuracy "$OUT/pgd.json") (n=1,000)"

for n in 1k ""; do
	timed "attack$n" "$BIN/sgn-attack" -pgd -steps 10 -eps 0.3 -model "$OUT/plain.sgn" -data "$OUT/test$n.arrows" -o "$OUT/attack$n.arrows"
	count=$("$BIN/sgn-score" -json "$OUT/attack$n.arrows" | grep -o '"n":[0-9]*' | head -1 | cut -d: -f2)
	say "sgn-attack -pgd -steps 10 on $count test images: $T"
done

# The cost of SGN in training: ms per step on 2,560 images (20 steps, the
# first one compiling the graph), plain and SGN with both gradient paths,
# without and with FGSM-RS.
"$BIN/sgn-fetch" -limit 2560 -o "$OUT/train2560.arrows" mnist
cost=""
for adv in none fgsm; do
	for model in plain "sgn exact" "sgn detached"; do
		set -- -epochs 1 -adv "$adv" -eps 0.3 -data "$OUT/train2560.arrows" -o "$OUT/cost.sgn"
		[ "$model" = plain ] || set -- "$@" -sgn -sg-grad "${model#sgn }"
		"$BIN/sgn-train" "$@" 2>"$OUT/cost.log"
		label=$model
		[ "$adv" = none ] || label="$label with fgsm-rs"
		cost="$cost $label $(perstep "$OUT/cost.log");"
	done
done
say "training cost, 1 epoch of 2,560:$cost"

timed startup "$BIN/sgn-attack" -h
say "start-up: sgn-attack -h in ${T%%,*}"
say "all of the above: $(($(date +%s) - start)) s of wall time"
