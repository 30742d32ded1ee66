#!/bin/bash
# hostile.sh [BIN [DIR]]: crafts the reproducers of issue 17 (crafted
# checkpoints and streams, bombs, odd outputs, signals) in the scratch
# directory DIR (default: a new temporary directory, removed at the end)
# and runs the tools in BIN (default: built into DIR) on them, each under
# a 6 GB address-space cap so that a bomb cannot take the machine. It
# prints a Markdown table: per run the exit status, the first stderr line,
# peak resident memory (/usr/bin/time %M) and that of the same tool on a
# well-formed input of the same model, its wall time and stderr lines.
#
#   bash pipelines/hostile/hostile.sh            # or: make hostile
#   bash pipelines/hostile/hostile.sh bin /tmp/hostile
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GO=${GO:-go}
if [ $# -ge 2 ]; then
	DIR=$2
	mkdir -p "$DIR"
else
	DIR=$(mktemp -d)
	trap 'rm -rf "$DIR"' EXIT
fi
if [ $# -ge 1 ]; then
	BIN=$(cd "$1" && pwd)
else
	BIN=$DIR/bin
	(cd "$ROOT" && "$GO" build -o "$BIN/" ./tools/...) || exit 1
fi
cd "$DIR"
MNIST=$(ls -d "$(go env GOMODCACHE)"/github.com/petar/\!go\!m\!n\!i\!s\!t@*/data | head -1)
export SGN_CACHE=$DIR/cache
"$BIN/sgn-fetch" -split test -limit 2000 -from "$MNIST" -o test2k.arrow mnist
"$BIN/sgn-fetch" -split test -limit 256 -from "$MNIST" -o test256.arrow mnist
"$BIN/sgn-fetch" -split test -limit 16 -from "$MNIST" -o test16.arrow mnist
"$BIN/sgn-train" -arch mlp -epochs 1 -batch 64 -data test2k.arrow -o mlp.sgn 2>/dev/null
(cd "$ROOT" && "$GO" run ./pipelines/hostile/craft "$DIR" "$DIR/mlp.sgn" "$DIR/test2k.arrow") || exit 1

# measure NAME CMD...: runs CMD under the cap; sets code, rss, secs, lines
# and first.
measure() {
	rm -f out.* .out.*
	(ulimit -v 6000000; /usr/bin/time -f "%M %e" -o time.txt "$@" >stdout.bin 2>stderr.txt)
	code=$?
	read -r rss secs < <(tail -1 time.txt)
	first=$(grep -v '^Command exited\|^Command terminated' stderr.txt | head -1 | cut -c1-150 | tr '|' '/')
	lines=$(grep -vc '^Command exited\|^Command terminated' stderr.txt)
}
declare -A well
# base TOOL CMD...: the well-formed run of a tool that the reproducers of
# that tool are compared with.
base() {
	tool=$1
	shift
	measure "$@"
	well[$tool]=$rss
	printf "| well-formed %s | %s | %s | %s | | %s | %s |\n" "$tool" "$code" "$first" "$rss" "$secs" "$lines"
}
run() {
	name=$1
	tool=$(basename "$2")
	[ "$tool" = timeout ] && tool=$(basename "$4")
	shift
	measure "$@"
	printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$code" "$first" "$rss" "${well[$tool]:-}" "$secs" "$lines"
}
echo "| reproducer | exit | first stderr line | peak KB | well-formed peak KB | s | stderr lines |"
echo "|---|---|---|---|---|---|---|"
base sgn-score  "$BIN/sgn-score" -model mlp.sgn test2k.arrow
base sgn-attack "$BIN/sgn-attack" -fgsm -model mlp.sgn -data test2k.arrow
base sgn-train  "$BIN/sgn-train" -arch mlp -epochs 1 -data test2k.arrow -o out.sgn
base sgn-fetch  "$BIN/sgn-fetch" -split test -from "$MNIST" -o out.arrow mnist
run 1-score-shape-8m          "$BIN/sgn-score" -model ck-shape-8m.sgn test2k.arrow
run 1-score-shape-1000m       "$BIN/sgn-score" -model ck-shape-1000m.sgn test2k.arrow
run 2-train-huge-8m           "$BIN/sgn-train" -epochs 1 -data huge-8m.arrow
run 2-train-mlp-4096          "$BIN/sgn-train" -arch mlp -epochs 1 -data huge-4096.arrow
run 3-resume-batch-neg        "$BIN/sgn-train" -data test2k.arrow -resume ck-batch-neg.sgn -epochs 3 -o out.sgn
run 3-resume-epoch-neg        "$BIN/sgn-train" -data test2k.arrow -resume ck-epoch-neg.sgn -epochs 3 -o out.sgn
run 3-resume-batch-huge       "$BIN/sgn-train" -data test2k.arrow -resume ck-batch-huge.sgn -o out.sgn
run 3-resume-step-neg         "$BIN/sgn-train" -data test2k.arrow -resume ck-step-neg.sgn -o out.sgn
run 7a-score-ck-4gib          "$BIN/sgn-score" -model ck-4gib.sgn test2k.arrow
run 7b-fetch-idx-bomb         "$BIN/sgn-fetch" -from idxbomb -o out.arrow mnist
run 7c-score-batch-1g         "$BIN/sgn-score" -model mlp.sgn batch-1g.arrow
run 8-attack-shape-784        "$BIN/sgn-attack" -fgsm -model mlp.sgn -data shape-784.arrow -o out.arrow
run 8-attack-shape-28x28      "$BIN/sgn-attack" -fgsm -model mlp.sgn -data shape-28x28.arrow -o out.arrow
run 8-attack-shape-1x1x28x28  "$BIN/sgn-attack" -fgsm -model mlp.sgn -data shape-1x1x28x28.arrow -o out.arrow
run 9-train-pixel-1e30        "$BIN/sgn-train" -arch mlp -epochs 1 -data pixel-1e30.arrow -o out.sgn
run 9-train-pixel-neg         "$BIN/sgn-train" -arch mlp -epochs 1 -data pixel-neg.arrow -o out.sgn
run 9-train-pixel-scale-1e30  "$BIN/sgn-train" -arch mlp -epochs 1 -data pixel-1e10-scale.arrow -o out.sgn
run x-attack-schema-only      "$BIN/sgn-attack" -fgsm -model mlp.sgn -data schema-only.arrow -o out.arrow
run x-train-o-missing-dir     "$BIN/sgn-train" -arch mlp -epochs 1 -data test2k.arrow -o "$DIR/nodir/out.sgn"
run x-train-16-examples       "$BIN/sgn-train" -arch mlp -epochs 1 -data test16.arrow -o out.sgn
run x-score-batch-1e9         "$BIN/sgn-score" -batch 1000000000 -model mlp.sgn test2k.arrow
"$BIN/sgn-fetch" -split test -from "$MNIST" mnist | head -c 100 >/dev/null
echo "| x-fetch-head-c-100 | ${PIPESTATUS[0]} | (stdout closed after 100 bytes) | | | | |"
# Item 6: a FIFO named like an official file in -from.
mkdir -p fifodir && rm -f fifodir/t10k-images-idx3-ubyte.gz && mkfifo fifodir/t10k-images-idx3-ubyte.gz
run 6-fetch-from-fifo timeout 60 "$BIN/sgn-fetch" -split test -from fifodir -o out.arrow mnist
echo "| 6-fetch-from-fifo leftovers | | $(ls -a | grep -c '^\.out\.arrow') temporary files left | | | | |"
# Item 5: SIGTERM and SIGINT to a running attack, grad and score: each
# must stop within seconds with 143 or 130.
for sig in TERM INT; do
	for tool in attack grad score; do
		case $tool in
		attack) cmd=("$BIN/sgn-attack" -pgd -steps 40 -model mlp.sgn -data test2k.arrow -o out.arrow) ;;
		grad) cmd=("$BIN/sgn-grad" -batch 1 -model mlp.sgn -data test2k.arrow -o out.arrow) ;;
		score) cmd=("$BIN/sgn-score" -batch 1 -model mlp.sgn test2k.arrow test2k.arrow test2k.arrow) ;;
		esac
		rm -f out.* .out.*
		start=$(date +%s.%N)
		"${cmd[@]}" >/dev/null 2>stderr.txt &
		pid=$!
		sleep 2
		kill -s "$sig" "$pid"
		wait "$pid"
		code=$?
		secs=$(echo "$(date +%s.%N) - $start - 2" | bc)
		printf "| 5-sig%s-%s | %s | %s | | | %.1f after the signal | %s |\n" "$sig" "$tool" "$code" "$(head -1 stderr.txt | cut -c1-150 | tr '|' '/')" "$secs" "$(wc -l <stderr.txt)"
	done
done
# Outputs: a character device like /dev/null (1,3) and a FIFO, made here.
rm -f devnull fifo
if mknod devnull c 1 3 2>/dev/null; then
	"$BIN/sgn-attack" -fgsm -model mlp.sgn -data test256.arrow -o devnull 2>/dev/null
	echo "| 4-attack-o-chardev | $? | -o is still a $(stat -c %F devnull) | | | | |"
fi
# A symbolic link: its target is written, the link stays.
rm -f target.arrow link.arrow && touch target.arrow && ln -s target.arrow link.arrow
"$BIN/sgn-attack" -fgsm -model mlp.sgn -data test256.arrow -o link.arrow 2>/dev/null
echo "| 4-attack-o-symlink | $? | link.arrow is a $(stat -c %F link.arrow), its target holds $(stat -c %s target.arrow) bytes | | | | |"
mkfifo fifo
(timeout 60 cat fifo | wc -c >fifo.count) &
sleep 0.5
timeout 60 "$BIN/sgn-attack" -fgsm -model mlp.sgn -data test256.arrow -o fifo 2>/dev/null
wait
echo "| 4-attack-o-fifo | | -o is still a $(stat -c %F fifo), its reader got $(cat fifo.count) bytes | | | | |"
rm -f devnull fifo
