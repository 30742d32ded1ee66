#!/usr/bin/env bash
# crosscheck.sh — sgn against PyTorch on the same weights (make crosscheck).
#
#   bash pipelines/crosscheck.sh
#
# 1. pipelines/crosscheck (Go) writes, for every case of its table (the
#    four architectures, plain and as SGNs at the input and at inner taps,
#    on the first MNIST test images or CIFAR-shaped ones, trained with
#    sgn-train or random), the model as a checkpoint and what sgn computes:
#    logits, input gradient, self-gradients, one training step's parameter
#    gradients and running statistics, and L-inf and L2 PGD-10 without
#    random start with the point and gradient of every step; for an SGN,
#    sgn-grad writes its self-gradient columns on the same inputs.
# 2. sgn-convert turns each checkpoint into safetensors, which
#    pipelines/torch/models.py loads (strict), and
#    pipelines/torch/crosscheck.py recomputes everything in PyTorch (PGD
#    step by step from sgn's iterates: see its tolerances for why), prints
#    the table of relative errors and fails over the tolerances.
# 3. Models trained in PyTorch with models.py (madry-mnist, and an SGN of
#    it) are imported with sgn-convert and scored by sgn-score: the
#    accuracy must be PyTorch's to the example.
#
# Installs Debian's python3-torch when missing (pipelines/need-torch.sh).
# Writes to OUT (pipelines/out/crosscheck); the table goes to stdout and
# OUT/cases/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${OUT:-pipelines/out/crosscheck}
. pipelines/need-torch.sh

rm -rf "$OUT/cases"
mkdir -p "$OUT/bin" "$OUT/cases"
"$GO" build -o "$OUT/bin" ./tools/sgn-fetch ./tools/sgn-train ./tools/sgn-convert ./tools/sgn-score ./tools/sgn-grad ./pipelines/crosscheck
export PATH="$PWD/$OUT/bin:$PATH"
log="$OUT/crosscheck.log"
: >"$log"
# PyTorch on the two threads of its own pool, OpenBLAS on one.
export OPENBLAS_NUM_THREADS=1

sgn-fetch -limit 6000 -o "$OUT/train.arrows" mnist 2>>"$log"
sgn-fetch -split test -limit 1000 -o "$OUT/test.arrows" mnist 2>>"$log"
sgn-train -arch madry-mnist -epochs 1 -data "$OUT/train.arrows" -o "$OUT/madry.sgn" 2>>"$log"
sgn-train -arch madry-mnist -sgn -epochs 1 -data "$OUT/train.arrows" -o "$OUT/madry-sgn.sgn" 2>>"$log"

crosscheck cases -mnist "$OUT/test.arrows" -trained "madry=$OUT/madry.sgn,madry-sgn=$OUT/madry-sgn.sgn" -o "$OUT/cases" 2>>"$log"
for ck in "$OUT"/cases/*.sgn; do
	sgn-convert -to safetensors -o "${ck%.sgn}.safetensors" "$ck" 2>>"$log"
done
# sgn-grad's self-gradient columns, for the SGN cases, against PyTorch's.
for x in "$OUT"/cases/*.x.arrows; do
	c=${x%.x.arrows}
	sgn-grad -batch 8 -model "$c.sgn" -data "$x" -o "$c.grad.arrows" 2>>"$log"
	crosscheck selfgrads "$c.grad.arrows" "$c.sgn-grad.safetensors" 2>>"$log"
done
status=0
"$PY" pipelines/torch/crosscheck.py check "$OUT/cases" || status=1

# Trained in PyTorch, scored by sgn.
crosscheck examples "$OUT/train.arrows" "$OUT/train.safetensors"
crosscheck examples "$OUT/test.arrows" "$OUT/test.safetensors"
echo
echo "| trained in PyTorch (1 epoch, 6,000 MNIST images) | PyTorch accuracy | sgn-score accuracy |"
echo "|---|---|---|"
for m in "madry-mnist" "madry-mnist sgn"; do
	name=torch-${m// /-}
	torch=$("$PY" pipelines/torch/crosscheck.py train "$OUT/train.safetensors" "$OUT/test.safetensors" "$OUT/$name.safetensors" $m)
	sgn-convert -to sgn -o "$OUT/$name.sgn" "$OUT/$name.safetensors" 2>>"$log"
	ours=$(sgn-score -json -model "$OUT/$name.sgn" "$OUT/test.arrows")
	"$PY" - "$name" "$torch" "$ours" <<'PY' || status=1
import json, sys
name, torch, ours = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {name} | {torch['accuracy']:.4f} ({torch['correct']}/{torch['n']}) | {ours['accuracy']:.4f} (n={ours['n']}) |")
if ours["n"] != torch["n"] or round(ours["accuracy"] * ours["n"]) != torch["correct"]:
    sys.exit(f"crosscheck: {name}: sgn-score's accuracy differs from PyTorch's")
PY
done
exit $status
