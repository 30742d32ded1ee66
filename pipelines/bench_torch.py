#!/usr/bin/env python3
"""PyTorch reference for the benchmark workload (docs/design.md): the four workloads of
shared/engine/bench_test.go on CPU, float32, 2 threads, batch 128 of random
MNIST-shaped images with random labels. Prints one JSON line of median
milliseconds per operation:

    {"train_step_ms":..,"pgd10_ms":..,"double_backprop_ms":..,"sgn_step_ms":..,
     "sgn_step_create_graph_ms":..}

With --cifar, also a training step of cifar-cnn and of preact-resnet18 on
a batch of 128 random 3x32x32 images (cifar_cnn_step_ms,
preact_resnet18_step_ms), as shared/engine's BenchmarkCIFARCNNStep and
BenchmarkPreActResNet18Step.

Usage: bench_torch.py [--runs N] [--warmup N] [--cifar]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.1307, 0.3081


class Madry(nn.Module):
    """The Madry MNIST CNN; inputs in pixel space, normalised inside, as ours."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(3136, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        h = (x - MEAN) / STD
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.relu(self.fc1(h.flatten(1)))
        return self.fc2(h)


CIFAR_MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
CIFAR_STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


class CifarCNN(nn.Module):
    """cifar-cnn: three conv-BN-ReLU-maxpool stages, then two dense layers."""

    def __init__(self):
        super().__init__()
        chans = [3, 32, 64, 128]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(chans, chans[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in chans[1:])
        self.fc1 = nn.Linear(128 * 4 * 4, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        h = (x - CIFAR_MEAN) / CIFAR_STD
        for conv, bn in zip(self.convs, self.bns):
            h = F.max_pool2d(F.relu(bn(conv(h))), 2)
        return self.fc2(F.relu(self.fc1(h.flatten(1))))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        y = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return y + shortcut


class PreActResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        blocks, cin = [], 64
        for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [PreActBlock(cin, width, stride), PreActBlock(width, width, 1)]
            cin = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(512)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        h = self.blocks(self.conv1((x - CIFAR_MEAN) / CIFAR_STD))
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.bn(h)), 1).flatten(1))


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cifar", action="store_true", help="also the CIFAR models' training steps")
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(0)
    n = 128
    x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    out = {}

    # Train step: forward, backward, SGD with momentum.
    net = Madry()
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)

    def train_step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    out["train_step_ms"] = timed(train_step, args.warmup, args.runs)

    # PGD-10, L-inf, eps 0.3, alpha 2.5*eps/10, random start, last iterate.
    eps, steps = 0.3, 10
    alpha = 2.5 * eps / steps
    for p in net.parameters():
        p.requires_grad_(False)

    def pgd10():
        xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
        for _ in range(steps):
            xa.requires_grad_(True)
            loss = F.cross_entropy(net(xa), y, reduction="sum")
            (g,) = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                xa = xa + alpha * g.sign()
                xa = torch.min(torch.max(xa, x - eps), x + eps).clamp(0, 1)
        return xa.detach()

    out["pgd10_ms"] = timed(pgd10, args.warmup, args.runs)
    for p in net.parameters():
        p.requires_grad_(True)

    # Double backprop: loss + ||grad_x loss||^2, backward through both, SGD.
    # backward(inputs=...) skips the unused gradient with respect to x, as
    # ours does.
    def double_backprop():
        opt.zero_grad()
        xr = x.clone().requires_grad_(True)
        loss = F.cross_entropy(net(xr), y)
        (gx,) = torch.autograd.grad(loss, xr, create_graph=True)
        (loss + gx.pow(2).sum()).backward(inputs=params)
        opt.step()

    out["double_backprop_ms"] = timed(double_backprop, args.warmup, args.runs)

    # SGN step (input tap, sign, learned gate, exact): probe pass, predicted
    # self-label, self-gradient, response pass on x + 0.3*tanh(a)*sign(s),
    # CE on the response logits, backward, SGD. The exact gradient through
    # sign(s) is zero, so sgn drops the self-gradient's second-order path
    # from its graph; timed here without create_graph, which gives the
    # same values. With create_graph, as the definition reads, PyTorch
    # computes that path in full: sgn_step_create_graph_ms.
    gate = nn.Parameter(torch.zeros(1))
    sparams = params + [gate]
    sopt = torch.optim.SGD(sparams, lr=0.01, momentum=0.9)

    def sgn_step(create_graph=False):
        sopt.zero_grad()
        xr = x.clone().requires_grad_(True)
        z0 = net(xr)
        yhat = z0.argmax(1).detach()
        (s,) = torch.autograd.grad(F.cross_entropy(z0, yhat, reduction="sum"), xr, create_graph=create_graph)
        z = net(xr + 0.3 * torch.tanh(gate).view(1, 1, 1, 1) * torch.sign(s))
        F.cross_entropy(z, y).backward(inputs=sparams)
        sopt.step()

    out["sgn_step_ms"] = timed(sgn_step, args.warmup, args.runs)
    out["sgn_step_create_graph_ms"] = timed(lambda: sgn_step(True), args.warmup, args.runs)

    if args.cifar:
        xc = torch.rand(n, 3, 32, 32)
        for key, model, runs in [("cifar_cnn_step_ms", CifarCNN(), args.runs),
                                 ("preact_resnet18_step_ms", PreActResNet18(), min(args.runs, 5))]:
            copt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

            def cifar_step():
                copt.zero_grad()
                F.cross_entropy(model(xc), y).backward()
                copt.step()

            out[key] = timed(cifar_step, args.warmup, runs)

    res = {k: round(v, 1) for k, v in out.items()}
    # Which BLAS the linear layers ran on decides half the figures: say it.
    res["torch"] = torch.__version__
    res["threads"] = torch.get_num_threads()
    res["blas"] = loaded_blas()
    print(json.dumps(res))


def loaded_blas():
    """The BLAS library mapped into this process (after the runs above)."""
    import os
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    return ", ".join(sorted({os.path.basename(os.path.realpath(l)) for l in libs})) or "none mapped"


if __name__ == "__main__":
    main()
