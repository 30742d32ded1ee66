#!/usr/bin/env python3
"""PyTorch's side of `make crosscheck` (pipelines/crosscheck.sh).

check DIR [CASE...]: for each case CASE that pipelines/crosscheck (Go) wrote, loads
DIR/CASE.safetensors (the model, through sgn-convert) into models.py,
recomputes what DIR/CASE.expected.safetensors holds (logits, input
gradient, self-gradients, one training step's parameter gradients and
running statistics, PGD) and, for an SGN, DIR/CASE.sgn-grad.safetensors
(sgn-grad's self-gradient columns) in float32 and, but for PGD, float64, prints a
table of relative errors and exits 1 if any of sgn's exceeds its
tolerance.

The relative error of a tensor is max|a - b| / max|b|: the largest
difference relative to the tensor's scale (element-wise ratios are
meaningless where b is near 0). Each cell shows sgn against PyTorch in
float32, and in parentheses PyTorch float32 against float64, the error
float32 itself brings.

train DATA.safetensors TEST.safetensors OUT.safetensors ARCH [SGN]: trains
a model in PyTorch with models.py and writes it with models.save; prints
its accuracy on TEST as JSON, for comparison with sgn-score's.
"""
import copy
import glob
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

# Tolerances on sgn against PyTorch in float32, relative error per tensor.
# Forward values and first derivatives differ by float32 rounding in
# another summation order (about 1e-6 of the tensor's scale); second
# derivatives and the deeper networks compound it; PGD's iterates agree
# to the rounding of one step unless a gradient component's sign flips,
# which float32 noise decides where it is near 0.
TOL = {"logits": 1e-4, "input_grad": 1e-3, "selfgrad": 1e-3, "sgn-grad": 1e-3, "train_grads": 1e-3, "running_stats": 1e-4, "pgd": 1e-4}
COLUMNS = ["logits", "input_grad", "selfgrad", "sgn-grad", "train_grads", "running_stats", "pgd"]


def rel(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    if a.numel() == 0:
        return 0.0
    scale = b.abs().max().item()
    d = (a - b).abs().max().item()
    return d / scale if scale > 0 else d


def pgd(net, x, y, eps, alpha, steps):
    """L-inf PGD from x (no random start), last iterate, as sgn's
    attack.PGD{LastIterate: true} with the summed cross-entropy."""
    xa = x.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(net(xa), y, reduction="sum"), xa)
        with torch.no_grad():
            xa = xa + alpha * g.sign()
            xa = torch.min(torch.max(xa, (x - eps).clamp(min=0)), (x + eps).clamp(max=1))
    return xa.detach()


def compute(net, exp, meta, dtype):
    """Everything the expected file holds, computed by PyTorch in dtype."""
    net = copy.deepcopy(net).to(dtype)
    x, y = exp["x"].to(dtype), exp["y"]
    out = {}
    net.eval()
    is_sgn = isinstance(net, models.SGN)
    with torch.no_grad():
        if is_sgn:
            d = net.details(x)
            out["logits"], out["probe_logits"] = d["logits"], d["probe_logits"]
            for t, s in d["selfgrads"].items():
                out["selfgrad." + t] = s.flatten(1)
                # sgn-grad's selfgrad.TAP columns (CASE.sgn-grad.safetensors).
                out["sgn-grad.selfgrad." + t] = s.flatten(1)
        else:
            out["logits"] = net(x)
    xr = x.clone().requires_grad_(True)
    (out["input_grad"],) = torch.autograd.grad(F.cross_entropy(net(xr), y, reduction="sum"), xr)
    if dtype == torch.float32:
        # In float64 max-pool ties and signs near 0 go other ways: a float64
        # attack is another attack, not a yardstick for this one.
        out["pgd"] = pgd(net, x, y, float(meta["pgd.eps"]), float(meta["pgd.alpha"]), int(meta["pgd.steps"]))
    # One training step: gradients of the mean loss (sgn-train's objective),
    # then the running statistics the step leaves.
    net.train()
    names, params = zip(*net.named_parameters())
    loss = net.loss(x, y) if is_sgn else F.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, params)
    out["train_loss"] = loss.detach()
    for n, g in zip(names, grads):
        out["step." + n] = g
    for n, b in net.named_buffers():
        if n.endswith("running_mean") or n.endswith("running_var"):
            out["step." + n] = b
    return {k: v.detach() for k, v in out.items()}


def row(case, cells):
    return f"| {case} | " + " | ".join(cell(*cells[c]) if c in cells else "–" for c in COLUMNS) + " |"


def cell(ours, floor):
    return f"{ours:.1e}" if floor is None else f"{ours:.1e} ({floor:.1e})"


def group(name):
    if name in ("logits", "probe_logits", "train_loss"):
        return "logits"
    if name.startswith("selfgrad."):
        return "selfgrad"
    if name.startswith("sgn-grad."):
        return "sgn-grad"
    if name.startswith("step."):
        return "running_stats" if name.endswith(("running_mean", "running_var")) else "train_grads"
    return name


def check(directory, only=()):
    torch.set_num_threads(2)
    rows, failed = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.expected.safetensors"))):
        case = os.path.basename(path)[: -len(".expected.safetensors")]
        if only and case not in only:
            continue
        exp, meta = models.load_safetensors(path)
        extra = os.path.join(directory, case + ".sgn-grad.safetensors")
        if os.path.exists(extra):
            exp.update(models.load_safetensors(extra)[0])
        net = models.load(os.path.join(directory, case + ".safetensors"))
        start = time.time()
        f32, f64 = compute(net, exp, meta, torch.float32), compute(net, exp, meta, torch.float64)
        print(f"crosscheck: {case}: PyTorch side in {time.time() - start:.1f} s", file=sys.stderr)
        cells, worst = {}, {}
        for name, want in f32.items():
            if name not in exp:
                sys.exit(f"crosscheck: {case}: sgn wrote no {name}")
            ours, floor = rel(exp[name], want), rel(want, f64[name]) if name in f64 else None
            g = group(name)
            if g not in cells or ours > cells[g][0]:
                cells[g], worst[g] = (ours, floor), name
        unmatched = sorted(set(exp) - set(f32) - {"x", "y"})
        if unmatched:
            sys.exit(f"crosscheck: {case}: PyTorch computed no {', '.join(unmatched)}")
        for g, (ours, _) in cells.items():
            if ours > TOL[g]:
                failed.append(f"{case} {g} ({worst[g]}): {ours:.2e} > {TOL[g]:.0e}")
        rows.append((case, cells))
        # Each row as soon as it is known: a slow machine still shows some.
        print(f"crosscheck: {row(case, cells)}", file=sys.stderr)
    if not rows:
        sys.exit(f"crosscheck: no *.expected.safetensors in {directory}")
    head = "| case | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    lines += [row(case, cells) for case, cells in rows]
    lines.append("| tolerance | " + " | ".join(f"{TOL[c]:.0e}" for c in COLUMNS) + " |")
    table = "\n".join(lines)
    print(f"PyTorch {torch.__version__}; max relative error max|a-b|/max|b| per tensor, "
          "sgn vs PyTorch float32 (PyTorch float32 vs float64)")
    print(table)
    with open(os.path.join(directory, "table.md"), "w") as f:
        f.write(table + "\n")
    if failed:
        print("crosscheck: over tolerance: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


def train(data_path, test_path, out_path, arch, sgn=None):
    """Trains a model of arch (an SGN at the input tap when sgn is "sgn")
    for one epoch with Adam and writes it with models.save."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    data, _ = models.load_safetensors(data_path)
    test, _ = models.load_safetensors(test_path)
    shape = (1, 28, 28)
    x, y = data["images"].view(-1, *shape), data["labels"]
    net = models.ARCHS[arch]()
    if sgn:
        net = models.SGN(net, taps=("input",))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    perm = torch.randperm(len(y))
    for i in range(0, len(y), 128):
        idx = perm[i:i + 128]
        opt.zero_grad()
        loss = net.loss(x[idx], y[idx]) if sgn else F.cross_entropy(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    net.eval()
    tx, ty = test["images"].view(-1, *shape), test["labels"]
    with torch.no_grad():
        pred = torch.cat([net(tx[i:i + 500]).argmax(1) for i in range(0, len(ty), 500)])
    models.save(net, out_path, train={"trained_by": "pipelines/torch/crosscheck.py train", "examples": len(y)})
    print(json.dumps({"n": len(ty), "accuracy": (pred == ty).double().mean().item(), "correct": int((pred == ty).sum())}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "train":
        train(*sys.argv[2:])
    else:
        sys.exit(__doc__)
