"""sgn's four architectures and its self-gradient networks in PyTorch.

The modules compute what sgn computes (make crosscheck checks logits,
gradients, self-gradients, training gradients and attacks against it on
the same weights), and their state_dicts are what `sgn-convert -to
safetensors` writes and `sgn-convert -to sgn` reads:

    import models
    net = models.load("model.safetensors")      # written by sgn-convert
    logits = net(x)                             # x: [N, C, H, W] pixels in [0, 1]
    ...train it...
    models.save(net, "trained.safetensors")     # then: sgn-convert -to sgn trained.safetensors

Inputs are pixels in [0, 1]; each backbone normalises them itself (mean
and std are buffers outside the state_dict: they travel as metadata).
An SGN (`SGN(backbone, taps=...)`) runs a probe pass, takes each example's
gradient of its own cross-entropy at the tap points (the predicted label,
or in training optionally the true one), and runs the backbone again with
each tapped activation moved by gate * phi(self-gradient); see sgn's
README, "The method, as implemented".

Only Python's standard library, torch and (for the caller) nothing else:
safetensors files are read and written here, so no PyPI package is needed.
"""
import contextlib
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

MNIST_MEAN, MNIST_STD = [0.1307], [0.3081]
CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2471, 0.2435, 0.2616]


class Backbone(nn.Module):
    """A classifier of pixels in [0, 1] that normalises them itself and
    calls tap(name, h) at each of its tap points (TAPS, after "input"),
    continuing with what tap returns."""

    ARCH = None
    TAPS = ()

    def __init__(self, in_shape, classes, mean, std):
        super().__init__()
        c = in_shape[0]
        if len(mean) != c or len(std) != c:
            raise ValueError(f"{self.ARCH}: {len(mean)} means and {len(std)} stds for {c} channels")
        self.config = {"arch": self.ARCH, "in_shape": list(in_shape), "classes": classes,
                       "mean": list(mean), "std": list(std)}
        # x * (1/std) + (-mean/std), in float32, as sgn computes it.
        std32 = torch.tensor(std, dtype=torch.float32)
        scale = 1 / std32
        shift = -torch.tensor(mean, dtype=torch.float32) / std32
        self.register_buffer("norm_scale", scale.view(1, c, 1, 1), persistent=False)
        self.register_buffer("norm_shift", shift.view(1, c, 1, 1), persistent=False)

    def forward(self, x, tap=None):
        tap = tap or (lambda name, h: h)
        h = tap("input", x)
        return self.body(h * self.norm_scale + self.norm_shift, tap)

    def body(self, h, tap):
        raise NotImplementedError


class MLP(Backbone):
    ARCH, TAPS = "mlp", ("fc1", "fc2")

    def __init__(self, in_shape=(1, 28, 28), classes=10, mean=MNIST_MEAN, std=MNIST_STD, width=256):
        super().__init__(in_shape, classes, mean, std)
        n = in_shape[0] * in_shape[1] * in_shape[2]
        self.fc1, self.fc2, self.fc3 = nn.Linear(n, width), nn.Linear(width, width), nn.Linear(width, classes)

    def body(self, h, tap):
        h = tap("fc1", F.relu(self.fc1(h.flatten(1))))
        h = tap("fc2", F.relu(self.fc2(h)))
        return self.fc3(h)


class MadryMNIST(Backbone):
    """The CNN of Madry et al. (2018)."""

    ARCH, TAPS = "madry-mnist", ("conv1", "conv2", "fc1")

    def __init__(self, in_shape=(1, 28, 28), classes=10, mean=MNIST_MEAN, std=MNIST_STD):
        super().__init__(in_shape, classes, mean, std)
        self.conv1 = nn.Conv2d(in_shape[0], 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * (in_shape[1] // 4) * (in_shape[2] // 4), 1024)
        self.fc2 = nn.Linear(1024, classes)

    @staticmethod
    def conv_pool_relu(conv, h):
        # relu(maxpool(conv(h)) + b), the same function as
        # maxpool(relu(conv(h) + b)); in sgn's order so that ties in a
        # window route gradients to the same place.
        h = F.max_pool2d(F.conv2d(h, conv.weight, None, padding=2), 2)
        return F.relu(h + conv.bias.view(1, -1, 1, 1))

    def body(self, h, tap):
        h = tap("conv1", self.conv_pool_relu(self.conv1, h))
        h = tap("conv2", self.conv_pool_relu(self.conv2, h))
        h = tap("fc1", F.relu(self.fc1(h.flatten(1))))
        return self.fc2(h)


class CifarCNN(Backbone):
    """Three conv-BN-ReLU-maxpool stages, then two dense layers."""

    ARCH, TAPS = "cifar-cnn", ("block1", "block2", "block3", "fc1")

    def __init__(self, in_shape=(3, 32, 32), classes=10, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__(in_shape, classes, mean, std)
        self.conv1, self.bn1 = nn.Conv2d(in_shape[0], 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128)
        self.fc1 = nn.Linear(128 * (in_shape[1] // 8) * (in_shape[2] // 8), 256)
        self.fc2 = nn.Linear(256, classes)

    def body(self, h, tap):
        for i, (conv, bn) in enumerate([(self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)]):
            h = tap(f"block{i + 1}", F.max_pool2d(F.relu(bn(conv(h))), 2))
        h = tap("fc1", F.relu(self.fc1(h.flatten(1))))
        return self.fc2(h)


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        y = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return y + shortcut


class PreActResNet18(Backbone):
    """The pre-activation ResNet-18 (He et al. 2016) in its CIFAR form, with
    the module names of the fast adversarial training code (Wong et al.
    2020), so that its state_dicts load as they are."""

    ARCH, TAPS = "preact-resnet18", ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, in_shape=(3, 32, 32), classes=10, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__(in_shape, classes, mean, std)
        self.conv1 = nn.Conv2d(in_shape[0], 64, 3, 1, 1, bias=False)
        cin = 64
        for i, (width, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            setattr(self, f"layer{i + 1}", nn.Sequential(PreActBlock(cin, width, stride), PreActBlock(width, width, 1)))
            cin = width
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, classes)

    def body(self, h, tap):
        h = self.conv1(h)
        for i in range(4):
            h = tap(f"layer{i + 1}", getattr(self, f"layer{i + 1}")(h))
        h = F.relu(self.bn(h)).mean(dim=(2, 3))
        return self.linear(h)


ARCHS = {m.ARCH: m for m in (MLP, MadryMNIST, CifarCNN, PreActResNet18)}


@contextlib.contextmanager
def frozen_running_stats(module):
    """Batch norm in training mode that leaves its running statistics
    alone: sgn folds only the response pass's batch statistics into them."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom


class SGN(nn.Module):
    """A self-gradient network around backbone, with every option of sgn's
    shared/sgn: taps, phi (sign, l2, identity), gate ("learned", bounded by
    gate_bound * tanh(a) with a starting at 0, or a fixed number), label
    (pred, or true in training), grad (exact: differentiate through the
    self-gradients, second derivatives included; detached: treat them as
    constants) and probe_weight (weight of the probe pass's own loss in
    SGN.loss)."""

    def __init__(self, backbone, taps=("input",), phi="sign", label="pred", grad="exact",
                 gate="learned", gate_bound=0.3, probe_weight=0.0):
        super().__init__()
        if phi not in ("sign", "l2", "identity") or label not in ("pred", "true") or grad not in ("exact", "detached"):
            raise ValueError(f"SGN: phi {phi!r}, label {label!r}, grad {grad!r}")
        self.backbone = backbone
        self.taps = list(taps)
        self.phi, self.label, self.grad, self.gate = phi, label, grad, str(gate)
        self.gate_bound, self.probe_weight = float(gate_bound), float(probe_weight)
        self.channels = self._tap_channels()
        if self.gate == "learned":
            self.gates = nn.ParameterDict({t: nn.Parameter(torch.zeros(self.channels[t])) for t in self.taps})
        else:
            self.fixed_gate = float(self.gate)

    @property
    def config(self):
        return self.backbone.config

    @property
    def sgn_config(self):
        return {"taps": self.taps, "phi": self.phi, "label": self.label, "grad": self.grad, "gate": self.gate,
                "gate_bound": self.gate_bound, "probe_weight": self.probe_weight}

    def _tap_channels(self):
        seen = {}

        def record(name, h):
            seen[name] = h.shape[1]
            return h

        was = self.backbone.training
        self.backbone.eval()
        with torch.no_grad():
            self.backbone(torch.zeros(1, *self.backbone.config["in_shape"]), tap=record)
        self.backbone.train(was)
        missing = [t for t in self.taps if t not in seen]
        if missing:
            raise ValueError(f"SGN: {self.backbone.ARCH} has no tap point {missing} (have {list(seen)})")
        return {t: seen[t] for t in self.taps}

    def alpha(self, tap):
        if self.gate == "learned":
            return self.gate_bound * torch.tanh(self.gates[tap])
        return torch.full((self.channels[tap],), self.fixed_gate)

    def details(self, x, y=None, grad=None, smooth_tau=0.0):
        """Returns the response logits, the probe logits and the self-
        gradients at each tap. grad overrides the gradient mode (an
        attacker's BPDA-style variant); smooth_tau > 0 replaces sign by
        tanh(s / smooth_tau)."""
        mode = grad or self.grad
        outer = torch.is_grad_enabled()
        taps = {}

        def record(name, h):
            if name in self.taps:
                if not h.requires_grad:
                    h = h.detach().requires_grad_()
                taps[name] = h
            return h

        with torch.enable_grad():
            frozen = frozen_running_stats(self.backbone) if self.training else contextlib.nullcontext()
            with frozen:
                z0 = self.backbone(x, tap=record)
            use_true = self.training and self.label == "true" and y is not None
            target = y if use_true else z0.argmax(1)
            # Each example's gradient of its own loss: a sum, not a mean.
            probe = F.cross_entropy(z0, target.detach(), reduction="sum")
            selfgrads = torch.autograd.grad(probe, [taps[t] for t in self.taps],
                                            create_graph=outer and mode == "exact")
        moves = {}
        for t, s in zip(self.taps, selfgrads):
            if mode == "detached" or not outer:
                s = s.detach()
            if self.phi == "sign":
                d = torch.tanh(s / smooth_tau) if smooth_tau > 0 else torch.sign(s)
            elif self.phi == "l2":
                norm = s.flatten(1).norm(dim=1).view(-1, *([1] * (s.dim() - 1)))
                d = s / (norm + 1e-12)
            else:
                d = s
            moves[t] = d * self.alpha(t).view(1, -1, *([1] * (s.dim() - 2)))
        logits = self.backbone(x, tap=lambda name, h: h + moves[name] if name in moves else h)
        return {"logits": logits, "probe_logits": z0, "selfgrads": dict(zip(self.taps, selfgrads))}

    def forward(self, x, y=None, **kw):
        return self.details(x, y, **kw)["logits"]

    def loss(self, x, y):
        """sgn-train's objective: mean cross-entropy of the response, plus
        probe_weight times that of the probe."""
        d = self.details(x, y)
        loss = F.cross_entropy(d["logits"], y)
        if self.training and self.probe_weight > 0:
            loss = loss + self.probe_weight * F.cross_entropy(d["probe_logits"], y)
        return loss


# --- safetensors, without the safetensors package ---

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}
_NAMES = {v: k for k, v in _DTYPES.items()}


def load_safetensors(path):
    """Returns (tensors, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dt = _DTYPES[e["dtype"]]
        if end > begin:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dt)
        else:
            t = torch.empty(0, dtype=dt)
        tensors[name] = t.reshape(e["shape"])
    return tensors, meta


def save_safetensors(path, tensors, metadata=None):
    """Writes a dict of tensors (in its order) and string metadata."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        b = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def build(config, sgn_config=None):
    """A fresh model of an sgn.model configuration (and an SGN of an
    sgn.sgn one)."""
    cls = ARCHS[config["arch"]]
    net = cls(in_shape=config["in_shape"], classes=config["classes"], mean=config["mean"], std=config["std"])
    if sgn_config:
        c = dict(sgn_config)
        net = SGN(net, taps=c["taps"], phi=c["phi"], label=c["label"], grad=c["grad"], gate=c["gate"],
                  gate_bound=c.get("gate_bound", 0.3), probe_weight=c.get("probe_weight", 0.0))
    return net


def load(path):
    """The model of a safetensors file written by sgn-convert (or save)."""
    tensors, meta = load_safetensors(path)
    if "sgn.model" not in meta:
        raise ValueError(f"{path}: no sgn.model metadata; build the model and load_state_dict yourself")
    sgn_config = json.loads(meta["sgn.sgn"]) if "sgn.sgn" in meta else None
    net = build(json.loads(meta["sgn.model"]), sgn_config)
    net.load_state_dict(tensors, strict=True)
    return net


def save(net, path, train=None):
    """Writes net's state_dict with the metadata sgn-convert -to sgn reads."""
    meta = {"format": "pt", "sgn.model": json.dumps(net.config)}
    if isinstance(net, SGN):
        meta["sgn.sgn"] = json.dumps(net.sgn_config)
    if train is not None:
        meta["sgn.train"] = json.dumps(train)
    save_safetensors(path, net.state_dict(), meta)
