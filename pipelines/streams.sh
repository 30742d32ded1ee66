# streams.sh, sourced by final.sh and best.sh: attack streams kept in a
# directory across runs, so that a rerun skips the attacks done, each
# stream's wall time beside it in NAME.seconds.

# keep_streams DIR MODEL: DIR holds MODEL's streams. Streams of another
# checkpoint (a cell retrained in place, a new best checkpoint) are removed
# first: a rerun must not score them as MODEL's.
keep_streams() {
	local dir=$1 model=$2 sum old
	mkdir -p "$dir"
	sum=$(sha256sum "$model")
	sum=${sum%% *}
	if [ -f "$dir/model.sha256" ]; then
		old=$(<"$dir/model.sha256")
		if [ "$old" != "$sum" ]; then
			echo "streams: $dir attacked checkpoint ${old:0:12}, not $model (${sum:0:12}); attacking again" >&2
			rm -f "$dir"/*.arrow "$dir"/*.seconds "$dir/score.json"
		fi
	fi
	echo "$sum" >"$dir/model.sha256.tmp" && mv "$dir/model.sha256.tmp" "$dir/model.sha256"
}

# since START: the seconds from START (date +%s.%N) to now.
since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'
}

# record_seconds FILE START: write since START to FILE, atomically.
record_seconds() {
	since "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}

# sum_seconds FILE...: the sum of the seconds FILEs that exist. A stream
# whose run was killed between its rename and its seconds file counts 0.
sum_seconds() {
	local f s=0
	for f in "$@"; do
		[ -f "$f" ] && s=$(awk -v a="$s" '{ a += $1 } END { print a }' "$f")
	done
	echo "$s"
}
