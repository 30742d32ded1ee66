#!/usr/bin/env python3
"""PyTorch's side of `make crosscheck` (pipelines/crosscheck.sh).

check DIR [CASE...]: for each case CASE that pipelines/crosscheck (Go) wrote, loads
DIR/CASE.safetensors (the model, through sgn-convert) into models.py,
recomputes what DIR/CASE.expected.safetensors holds (logits, input
gradient, self-gradients, one training step's parameter gradients and
running statistics, PGD's gradients and steps at sgn's iterates, L2 and
L-inf PGD) and, for an SGN, DIR/CASE.sgn-grad.safetensors (sgn-grad's
self-gradient columns) in float32 and float64, prints a table of relative
errors and a table of the PGD gradients' signs, and exits 1 if any of
sgn's errors exceeds its tolerance (TOL below says which and why).

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
# derivatives and the deeper networks compound it. A tensor that float32
# itself cannot compute to the tolerance (PyTorch float32 against float64
# over it: the training gradient of an SGN ResNet's filter, summed over 4
# images through batch norm, at 1.6e-2) is excused when sgn's value is no
# further from PyTorch's float64 than twice PyTorch's float32 is.
#
# PGD is checked step by step, not by its last iterate. Its L-inf step
# takes the sign of the input gradient, and the networks are piecewise
# smooth (ReLU, max-pool, and for an SGN sign(self-gradient) and the
# predicted label): a gradient component within float32 noise of 0, or a
# ReLU or max-pool input within float32 noise of its switch, goes either
# way by summation order, and from there two attacks part (PyTorch in
# float32 and in float64 part the same way). So, at each of the 10
# iterates sgn's PGD visited (recorded from its oracle):
#   pgd_grad: PyTorch's input gradient of the summed cross-entropy against
#     sgn's, relative to the step's gradient tensor, the input_grad
#     tolerance. An example over it is excused only if sgn's gradient is
#     float64 PyTorch's (to the same tolerance) at a point within KINK_STEP
#     of the iterate, on the other side of a switch (see near_kink); the
#     sign table counts them, and the cell is the worst example not excused.
#     input_grad, the same at the clean inputs, is checked the same way: a
#     deep network's clean input may be at a switch too (preact-resnet18:
#     a ReLU input at 1.5e-8 of its layer's largest).
#   pgd_step, pgd_l2_step: PyTorch's step from sgn's iterate with sgn's
#     gradient (x + alpha sign(g), or x + alpha g/|g|; then the projection
#     onto the eps-ball and [0, 1], exact for L2) against sgn's next
#     iterate: step size, step order, clipping and projection, as the
#     largest absolute difference in pixels of [0, 1], within a few float32
#     roundings of 1.
# Where pgd_grad passes, sgn's and PyTorch's gradients differ by less than
# NOISE max|g|, so their signs can differ only where |g| is below that
# floor: the sign table counts the flips, above and below it.
# pgd_linf is the free-running L-inf last iterate, shown, not checked.
NOISE = 1e-3
KINK_STEP = 1e-6
TOL = {"logits": 1e-4, "input_grad": NOISE, "selfgrad": 1e-3, "sgn-grad": 1e-3, "train_grads": 1e-3,
       "running_stats": 1e-4, "pgd_grad": NOISE, "pgd_step": 1e-6, "pgd_l2_step": 1e-6, "pgd_linf": None}
COLUMNS = list(TOL)


def rel(a, b):
    a, b = a.double().flatten(), b.double().flatten()
    if a.numel() == 0:
        return 0.0
    scale = b.abs().max().item()
    d = (a - b).abs().max().item()
    return d / scale if scale > 0 else d


def loss_grad(net, x, y):
    """The input gradient of the summed cross-entropy, as sgn's oracle
    computes it for PGD (each example's gradient of its own loss)."""
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(net(x), y, reduction="sum"), x)
    return g


def linf_step(x, x0, g, eps, alpha):
    """One step of L-inf PGD: x + alpha sign(g), clipped to the eps-box
    around x0 intersected with [0, 1]."""
    x = x + alpha * g.sign()
    return torch.min(torch.max(x, (x0 - eps).clamp(min=0)), (x0 + eps).clamp(max=1))


def l2_step(x, x0, g, eps, alpha):
    """One step of L2 PGD: x + alpha g/|g| per example, then the exact
    Euclidean projection onto the eps-ball around x0 intersected with
    [0, 1], which sgn computes (not rescaling onto the ball then clipping,
    which is not the nearest point when the box cuts the ball): the
    nearest point is clip(x0 + t(x - x0)) for the t in (0, 1] that puts it
    on the sphere, found here by bisection in float64."""
    n = x.shape[0]
    norm = g.flatten(1).norm(dim=1).view(n, *([1] * (g.dim() - 1)))
    x = torch.where(norm > 0, x + alpha * g / norm.clamp(min=torch.finfo(g.dtype).tiny), x)
    x64, c = x.double(), x0.double()

    def dist2(t):
        return ((c + t * (x64 - c)).clamp(0, 1) - c).flatten(1).pow(2).sum(1)

    lo, hi = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    inside = dist2(hi.view(n, *([1] * (x.dim() - 1)))) <= eps * eps
    for _ in range(60):
        mid = (lo + hi) / 2
        ok = dist2(mid.view(n, *([1] * (x.dim() - 1)))) <= eps * eps
        lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
    t = torch.where(inside, torch.ones_like(lo), lo).view(n, *([1] * (x.dim() - 1)))
    return (c + t * (x64 - c)).clamp(0, 1).to(x.dtype)


def pgd(net, x, y, eps, alpha, steps, step=linf_step):
    """PGD from x (no random start), its last iterate, as sgn's
    attack.PGD{LastIterate: true} with the summed cross-entropy."""
    xa = x.clone()
    for _ in range(steps):
        g = loss_grad(net, xa, y)
        with torch.no_grad():
            xa = step(xa, x, g, eps, alpha)
    return xa.detach()


def pgd_args(meta, key):
    return float(meta[key + ".eps"]), float(meta[key + ".alpha"]), int(meta[key + ".steps"])


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
    out["input_grad"] = loss_grad(net, x, y)
    # PGD: the gradients at sgn's iterates; the free-running L-inf attack
    # for information, in float32 only.
    for t in range(int(meta["pgd.steps"])):
        out[f"pgd.grad.{t}"] = loss_grad(net, exp[f"pgd.x.{t}"].to(dtype), y)
    if dtype == torch.float32:
        out["pgd"] = pgd(net, x, y, *pgd_args(meta, "pgd"))
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
    if name == "pgd":
        return "pgd_linf"
    return name


def near_kink(net, x, y, ours, tol):
    """Whether ours, sgn's input gradient of one example at x, is float64
    PyTorch's (to tol, absolute) at x + s KINK_STEP u for a sign s and one
    of four random sign vectors u: then sgn's gradient is the one-sided
    gradient of a switch (ReLU, max-pool, sign, argmax) that float32 noise
    put on the other side, at most KINK_STEP away."""
    net = copy.deepcopy(net).double().eval()
    x, ours = x.double(), ours.double()
    gen = torch.Generator().manual_seed(15)
    for _ in range(4):
        u = torch.randint(0, 2, x.shape, generator=gen).double() * 2 - 1
        for sgn in (1, -1):
            g = loss_grad(net, (x + sgn * KINK_STEP * u).clamp(0, 1), y)
            if (g - ours).abs().max().item() <= tol:
                return True
    return False


def grad_error(net, x, y, ours, want):
    """The input gradient's relative error, per tensor as rel's but over
    the examples not excused as at a switch (see near_kink), and how many
    were."""
    scale = want.abs().max().item()
    err = (ours.double() - want.double()).flatten(1).abs().max(1).values / max(scale, 1e-300)
    excused = torch.zeros(len(y), dtype=torch.bool)
    for i in (err > NOISE).nonzero().flatten().tolist():
        excused[i] = near_kink(net, x[i:i + 1], y[i:i + 1], ours[i:i + 1], NOISE * scale)
    return (err[~excused].max().item() if (~excused).any() else 0.0), excused


def pgd_check(net, exp, meta, f32, f64):
    """The input_grad and PGD cells (see TOL) and the sign table's row."""
    cells, signs = {}, {"x0 at a switch": 0, "example-steps": 0, "at a switch": 0, "components": 0, "flips": 0,
                        "flips above floor": 0, "flips f32/f64": 0, "below floor": 0}
    x0, y = exp["x"], exp["y"]
    # The input gradient at x0, with the same excuse as at the iterates.
    err, excused = grad_error(net, x0, y, exp["input_grad"], f32["input_grad"])
    cells["input_grad"] = (err, rel(f32["input_grad"], f64["input_grad"]))
    signs["x0 at a switch"] = int(excused.sum())
    worst, floor64 = 0.0, 0.0
    for t in range(int(meta["pgd.steps"])):
        xt, ours, g, g64 = exp[f"pgd.x.{t}"], exp[f"pgd.grad.{t}"], f32[f"pgd.grad.{t}"], f64[f"pgd.grad.{t}"]
        scale = g.abs().max().item()
        floor64 = max(floor64, rel(g, g64))
        err, excused = grad_error(net, xt, y, ours, g)
        worst = max(worst, err)
        sure = g.abs() > NOISE * scale
        flipped = ours.sign() != g.sign()
        signs["example-steps"] += len(y)
        signs["at a switch"] += int(excused.sum())
        signs["components"] += g.numel()
        signs["flips"] += int(flipped.sum())
        signs["flips above floor"] += int((flipped & sure)[~excused].sum())
        signs["flips f32/f64"] += int((g.sign() != g64.sign().to(g.dtype)).sum())
        signs["below floor"] += int((~sure).sum())
    cells["pgd_grad"] = (worst, floor64)
    for key, step, col in (("pgd", linf_step, "pgd_step"), ("pgd_l2", l2_step, "pgd_l2_step")):
        eps, alpha, steps = pgd_args(meta, key)
        err = 0.0
        for t in range(steps):
            nxt = exp[f"{key}.x.{t + 1}"] if t + 1 < steps else exp[key]
            want = step(exp[f"{key}.x.{t}"], x0, exp[f"{key}.grad.{t}"], eps, alpha)
            err = max(err, (nxt.double() - want.double()).abs().max().item())
        cells[col] = (err, None)
    return cells, signs


def check(directory, only=()):
    torch.set_num_threads(2)
    rows, failed, signs = [], [], {}
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
        cells, worst, judged = {}, {}, {}
        for name, want in f32.items():
            if name.startswith("pgd.") or name == "input_grad":
                continue
            if name not in exp:
                sys.exit(f"crosscheck: {case}: sgn wrote no {name}")
            ours, floor = rel(exp[name], want), rel(want, f64[name]) if name in f64 else None
            g = group(name)
            if g not in cells or ours > cells[g][0]:
                cells[g], worst[g] = (ours, floor), name
            if floor is not None and ours > TOL[g] and floor > TOL[g] and rel(exp[name], f64[name]) <= 2 * floor:
                print(f"crosscheck: {case} {name}: {ours:.2e} excused: float32 itself is {floor:.2e} from float64, "
                      f"sgn {rel(exp[name], f64[name]):.2e}", file=sys.stderr)
                ours = 0.0
            if ours > judged.get(g, (0.0, ""))[0]:
                judged[g] = (ours, name)
        unmatched = sorted(n for n in set(exp) - set(f32) - {"x", "y"} if not n.startswith(("pgd.x.", "pgd_l2")))
        if unmatched:
            sys.exit(f"crosscheck: {case}: PyTorch computed no {', '.join(unmatched)}")
        pcells, signs[case] = pgd_check(net, exp, meta, f32, f64)
        for g, v in pcells.items():
            cells[g], worst[g] = v, g
            judged[g] = (v[0], g)
        for g, (ours, name) in judged.items():
            if TOL[g] is not None and ours > TOL[g]:
                failed.append(f"{case} {g} ({name}): {ours:.2e} > {TOL[g]:.0e}")
        rows.append((case, cells))
        # Each row as soon as it is known: a slow machine still shows some.
        print(f"crosscheck: {row(case, cells)}", file=sys.stderr)
    if not rows:
        sys.exit(f"crosscheck: no *.expected.safetensors in {directory}")
    head = "| case | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    lines += [row(case, cells) for case, cells in rows]
    lines.append("| tolerance | " + " | ".join("not checked" if TOL[c] is None else f"{TOL[c]:.0e}" for c in COLUMNS) + " |")
    table = "\n".join(lines)
    keys = list(next(iter(signs.values())))
    sign_lines = ["| case | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    sign_lines += [f"| {case} | " + " | ".join(f"{s[k]:,}" for k in keys) + " |" for case, s in signs.items()]
    sign_table = "\n".join(sign_lines)
    note = (f"PyTorch {torch.__version__}; max relative error max|a-b|/max|b| per tensor, sgn vs PyTorch float32 "
            "(PyTorch float32 vs float64); pgd_step and pgd_l2_step: largest absolute difference in pixels of [0, 1]; "
            "pgd_linf is shown, not checked (see pipelines/torch/crosscheck.py)")
    sign_note = (f"Input gradients: clean examples excused as at a switch; examples at sgn's 10 L-inf PGD "
                 f"iterates, those excused as at a switch, and the signs of "
                 f"the input gradient's components; the noise floor is {NOISE:g} max|g| of a step's gradient tensor")
    print(note)
    print(table)
    print()
    print(sign_note)
    print(sign_table)
    with open(os.path.join(directory, "table.md"), "w") as f:
        f.write(f"{note}\n\n{table}\n\n{sign_note}\n\n{sign_table}\n")
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
