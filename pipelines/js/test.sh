#!/usr/bin/env bash
# test.sh — reads sgn streams with Apache Arrow JS (make test-js): installs
# the npm packages of package.json under OUT (pipelines/out/js) and runs
# format/stream's Arrow JS tests, among them docs/examples/read-stream.mjs
# on a zstd stream with a tensor column. Without node or npm it says so
# and exits 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
OUT=${OUT:-pipelines/out/js}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "test-js: skipped: node and npm are not installed" >&2
	exit 0
fi
mkdir -p "$OUT"
cp pipelines/js/package.json "$OUT/"
(cd "$OUT" && npm install --no-audit --no-fund --silent)
SGN_ARROWJS=$PWD/$OUT/node_modules "$GO" test -count=1 -v -run 'ArrowJS' ./format/stream
