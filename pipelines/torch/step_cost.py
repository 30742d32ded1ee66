#!/usr/bin/env python3
"""What one training step of an sgn-train recipe costs in PyTorch.

calibrate.sh runs it (CALIBRATE_WITH=pytorch, `make -C pipelines
calibrate-pytorch STUDY=...`) once per method of a study, with the
method's sgn-train flags, and keeps what it prints as that method's
training log, one JSON record {"step_ms": ..., "framework": ...}; sgn-study
calibration turns the logs into the study's calibration-pytorch.json.
The report sets
PyTorch's cost per step beside sgn's: a wall-time ratio between methods
depends on how well each implementation does its steps, and PyTorch is
what the field measures with.

A step is what sgn-train does for one batch: craft the batch's
adversarial examples against the current weights in training mode (FGSM
with a random start, PGD with a random start and the last iterate, or
TRADES' KL attack from a small Gaussian start; through an SGN with its
exact gradient, as sgn-train's attacker),
then one optimiser step on them (TRADES: cross-entropy on the clean batch
plus beta times the KL term). The images are random pixels with random
labels: no step's cost depends on them. The figure is the mean of -runs
steps after -warmup, at full eps (sgn-train's warm-up only scales eps).

Usage: step_cost.py -dataset mnist -eps 0.3 [-runs 15] [-warmup 5] SGN-TRAIN-FLAGS...
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

import models
from crosscheck import linf_step

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_torch import loaded_blas  # noqa: E402

SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def parse(argv):
    ap = argparse.ArgumentParser(prog="step_cost.py", description=__doc__.splitlines()[0])
    ap.add_argument("-dataset", required=True, choices=sorted(SHAPES))
    ap.add_argument("-eps", type=float, required=True)
    ap.add_argument("-runs", type=int, default=15)
    ap.add_argument("-warmup", type=int, default=5)
    ap.add_argument("-threads", type=int, default=0, help="torch threads (0: every core, as sgn-train)")
    # sgn-train's flags as the studies give them. Those that change no
    # step's cost are accepted and used where they shape the computation.
    ap.add_argument("-arch", default="")
    ap.add_argument("-batch", type=int, default=128)
    ap.add_argument("-adv", default="pgd", choices=["none", "fgsm", "pgd", "trades"])
    ap.add_argument("-steps", type=int, default=0)
    ap.add_argument("-alpha", type=float, default=0)
    ap.add_argument("-beta", type=float, default=6)
    ap.add_argument("-eps-warmup", type=float, default=0)
    ap.add_argument("-optimizer", default="")
    ap.add_argument("-lr", type=float, default=0)
    ap.add_argument("-sgn", action="store_true")
    ap.add_argument("-sg-taps", default="input")
    ap.add_argument("-sg-gate", default="learned")
    ap.add_argument("-sg-phi", default="sign")
    ap.add_argument("-sg-label", default="pred")
    ap.add_argument("-sg-grad", default="exact")
    a = ap.parse_args(argv)
    if a.runs < 1 or a.warmup < 0 or a.batch < 1:
        ap.error("-runs and -batch must be positive, -warmup not negative")
    gray = SHAPES[a.dataset][0] == 1
    a.arch = a.arch or ("madry-mnist" if gray else "cifar-cnn")
    a.optimizer = a.optimizer or ("adam" if gray else "sgd")
    if a.steps == 0 and a.adv in ("pgd", "trades"):
        a.steps = 40 if gray else 10
    if a.alpha == 0:
        a.alpha = 1.25 * a.eps if a.adv == "fgsm" else 2.5 * a.eps / max(a.steps, 1)
    return a


def build(a):
    shape = SHAPES[a.dataset]
    gray = shape[0] == 1
    config = {"arch": a.arch, "in_shape": list(shape), "classes": 10,
              "mean": models.MNIST_MEAN if gray else models.CIFAR_MEAN,
              "std": models.MNIST_STD if gray else models.CIFAR_STD}
    sgn = None
    if a.sgn:
        # sign's derivative is zero, so the exact gradient through the
        # self-gradient's second derivatives is zero too: sgn prunes that
        # path from its graphs (ops.Sign is constant), and PyTorch
        # would compute it in full. Detached gives the same values, and
        # the work sgn does.
        grad = "detached" if a.sg_phi == "sign" else a.sg_grad
        sgn = {"taps": a.sg_taps.split(","), "phi": a.sg_phi, "label": a.sg_label, "grad": grad,
               "gate": a.sg_gate}
    net = models.build(config, sgn)
    net.train()
    params = list(net.parameters())
    if a.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=a.lr or 1e-3)
    else:
        opt = torch.optim.SGD(params, lr=a.lr or 0.05, momentum=0.9, weight_decay=5e-4)
    return net, params, opt


def input_grad(net, xa, loss_of):
    xa = xa.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of(net(xa)), xa)
    return g


def step_fn(a, net, params, opt, x, y):
    """One of sgn-train's steps for a's recipe, as a closure."""
    eps, alpha = a.eps, a.alpha
    ce = lambda z: F.cross_entropy(z, y, reduction="sum")  # noqa: E731

    def adversarial():
        if a.adv == "none":
            return x
        # The attacks need no parameter gradients: as sgn's attacker, which
        # computes the input gradient alone.
        for p in params:
            p.requires_grad_(False)
        try:
            if a.adv == "trades":
                with torch.no_grad():
                    p_clean = F.softmax(net(x), 1)
                xa = x + 0.001 * torch.randn_like(x)
                loss = lambda z: F.kl_div(F.log_softmax(z, 1), p_clean, reduction="sum")  # noqa: E731
                steps = a.steps
            else:
                xa, loss = x + torch.empty_like(x).uniform_(-eps, eps), ce
                steps = 1 if a.adv == "fgsm" else a.steps
            xa = linf_step(xa, x, torch.zeros_like(x), eps, 0)
            for _ in range(steps):
                xa = linf_step(xa, x, input_grad(net, xa, loss), eps, alpha)
            return xa.detach()
        finally:
            for p in params:
                p.requires_grad_(True)

    def step():
        xa = adversarial()
        opt.zero_grad(set_to_none=True)
        if a.adv == "trades":
            z_clean = net(x)
            kl = F.kl_div(F.log_softmax(net(xa), 1), F.softmax(z_clean, 1), reduction="batchmean")
            loss = F.cross_entropy(z_clean, y) + a.beta * kl
        else:
            loss = net.loss(xa, y) if a.sgn else F.cross_entropy(net(xa), y)
        loss.backward()
        opt.step()

    return step


def main(argv):
    a = parse(argv)
    # torch's own default can be one thread where sgn-train uses every core.
    torch.set_num_threads(a.threads if a.threads > 0 else os.cpu_count())
    torch.manual_seed(1)
    net, params, opt = build(a)
    x = torch.rand(a.batch, *SHAPES[a.dataset])
    y = torch.randint(0, 10, (a.batch,))
    step = step_fn(a, net, params, opt, x, y)
    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.runs):
        step()
    ms = (time.perf_counter() - t0) * 1e3 / a.runs
    framework = f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {loaded_blas()}"
    print(json.dumps({"step_ms": ms, "runs": a.runs, "framework": framework}))


if __name__ == "__main__":
    main(sys.argv[1:])
