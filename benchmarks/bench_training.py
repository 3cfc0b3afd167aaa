"""End-to-end training throughput and batch-1 inference latency: dlx vs PyTorch vs NumPy.

One training step = forward + cross-entropy + backward + optimiser step, on the same
architecture and the same initial weights in every library (torch's ``state_dict`` is
copied into the dlx model and into the NumPy reference). The NumPy implementation of the
step is built from the ``dlx.reference`` functions (the specification the kernels are
tested against), so "numpy/dlx" is the speed-up of the C++ kernels plus the dlx graph.
The thread count is whatever ``run.py --threads`` set for both libraries.

Models (issue 6):
- ``mlp``: 784-256-256-10, ReLU, batch 128, SGD momentum 0.9;
- ``lenet``: conv5x5(1->16)-relu-pool2-linear(2304->128)-relu-linear(128->10), 1x28x28,
  batch 100, SGD momentum 0.9;
- ``vgg``: six 3x3 convs (16,16 | 32,32 | 64,64) with a 2x2 max pool after each pair,
  dropout(0.5), linear(576->10); 1x28x28, batch 100, Adam;
- ``cifar``: four 3x3 convs (32,32 | 64,64), each conv-BN-relu, a pool after each pair,
  linear(4096->10); 3x32x32, batch 64, Adam.
"""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
import dlx.optim
from dlx import nn, reference

# ----------------------------------------------------------------------------- models
# A model is a list of layer specs shared by all three libraries:
# ("conv", cin, cout, k, pad) | ("bn", c) | ("relu",) | ("pool", k) | ("flatten",)
# | ("dropout", p) | ("linear", fin, fout)
SPECS = {
    "mlp": [("linear", 784, 256), ("relu",), ("linear", 256, 256), ("relu",), ("linear", 256, 10)],
    "lenet": [
        ("conv", 1, 16, 5, 0),
        ("relu",),
        ("pool", 2),
        ("flatten",),
        ("linear", 16 * 12 * 12, 128),
        ("relu",),
        ("linear", 128, 10),
    ],
    "vgg": [
        ("conv", 1, 16, 3, 1),
        ("relu",),
        ("conv", 16, 16, 3, 1),
        ("relu",),
        ("pool", 2),
        ("conv", 16, 32, 3, 1),
        ("relu",),
        ("conv", 32, 32, 3, 1),
        ("relu",),
        ("pool", 2),
        ("conv", 32, 64, 3, 1),
        ("relu",),
        ("conv", 64, 64, 3, 1),
        ("relu",),
        ("pool", 2),
        ("flatten",),
        ("dropout", 0.5),
        ("linear", 64 * 3 * 3, 10),
    ],
    "cifar": [
        ("conv", 3, 32, 3, 1),
        ("bn", 32),
        ("relu",),
        ("conv", 32, 32, 3, 1),
        ("bn", 32),
        ("relu",),
        ("pool", 2),
        ("conv", 32, 64, 3, 1),
        ("bn", 64),
        ("relu",),
        ("conv", 64, 64, 3, 1),
        ("bn", 64),
        ("relu",),
        ("pool", 2),
        ("flatten",),
        ("linear", 64 * 8 * 8, 10),
    ],
}
INPUT = {"mlp": (784,), "lenet": (1, 28, 28), "vgg": (1, 28, 28), "cifar": (3, 32, 32)}
BATCH = {"mlp": 128, "lenet": 100, "vgg": 100, "cifar": 64}
OPTIM = {"mlp": "sgd", "lenet": "sgd", "vgg": "adam", "cifar": "adam"}
LR = 1e-3  # tiny, so many timed steps keep the weights sane


def build(m, spec):
    """The model in library ``m`` (``torch.nn`` or ``dlx.nn``): same layer names in both."""
    layers = []
    for s in spec:
        kind = s[0]
        if kind == "conv":
            layers.append(m.Conv2d(s[1], s[2], s[3], padding=s[4]))
        elif kind == "bn":
            layers.append(m.BatchNorm2d(s[1]))
        elif kind == "relu":
            layers.append(m.ReLU())
        elif kind == "pool":
            layers.append(m.MaxPool2d(s[1]))
        elif kind == "flatten":
            layers.append(m.Flatten())
        elif kind == "dropout":
            layers.append(m.Dropout(s[1]))
        else:
            layers.append(m.Linear(s[1], s[2]))
    return m.Sequential(*layers)


def make_optimizer(lib, params, kind):
    if kind == "sgd":
        return lib.optim.SGD(params, lr=LR, momentum=0.9)
    return lib.optim.Adam(params, lr=LR)


# ------------------------------------------------------------- NumPy reference model
class NumpyModel:
    """The same network as plain NumPy arrays stepped by ``dlx.reference`` functions."""

    def __init__(self, spec, state, optim):
        self.spec, self.optim, self.step_no, self.seed = spec, optim, 0, 0
        self.params = []  # per layer: list of [param, grad, state...]
        self.buffers = []
        for i, s in enumerate(spec):
            p = []
            if s[0] in ("conv", "linear", "bn"):
                for name in ("weight", "bias"):
                    w = np.array(state[f"{i}.{name}"], dtype=np.float32)
                    p.append([w, None, np.zeros_like(w), np.zeros_like(w)])
            self.params.append(p)
            if s[0] == "bn":
                self.buffers.append(
                    (
                        np.array(state[f"{i}.running_mean"], np.float32),
                        np.array(state[f"{i}.running_var"], np.float32),
                    )
                )
            else:
                self.buffers.append(None)

    def train_step(self, x, y):
        caches = []
        for s, p, buf in zip(self.spec, self.params, self.buffers, strict=True):
            kind = s[0]
            if kind == "conv":
                caches.append(x)
                x = reference.conv2d_forward(x, p[0][0], p[1][0], 1, s[4])
            elif kind == "linear":
                caches.append(x)
                x = reference.linear_forward(x, p[0][0], p[1][0])
            elif kind == "bn":
                out, mean, invstd = reference.batch_norm_forward(
                    x, p[0][0], p[1][0], buf[0], buf[1], True, 0.1, 1e-5
                )
                caches.append((x, mean, invstd))
                x = out
            elif kind == "relu":
                caches.append(x)
                x = reference.relu_forward(x)
            elif kind == "pool":
                x_shape = x.shape
                x, idx = reference.max_pool2d_forward(x, s[1])
                caches.append((idx, x_shape))
            elif kind == "flatten":
                caches.append(x.shape)
                x = x.reshape(x.shape[0], -1)
            else:
                self.seed += 1
                x, mask = reference.dropout_forward(x, s[1], self.seed)
                caches.append(mask)
        _, log_probs = reference.cross_entropy_forward(x, y)
        g = reference.cross_entropy_backward(np.float32(1.0), log_probs, y)
        for s, p, c in zip(self.spec[::-1], self.params[::-1], caches[::-1], strict=True):
            kind = s[0]
            if kind == "conv":
                g, p[0][1], p[1][1] = reference.conv2d_backward(g, c, p[0][0], 1, s[4])
            elif kind == "linear":
                g, p[0][1], p[1][1] = reference.linear_backward(g, c, p[0][0])
            elif kind == "bn":
                g, p[0][1], p[1][1] = reference.batch_norm_backward(
                    g, c[0], p[0][0], c[1], c[2], True
                )
            elif kind == "relu":
                g = reference.relu_backward(g, c)
            elif kind == "pool":
                g = reference.max_pool2d_backward(g, c[0], c[1])
            elif kind == "flatten":
                g = g.reshape(c)
            else:
                g = reference.dropout_backward(g, c, s[1])
        self.step_no += 1
        for p in self.params:
            for w, gw, m1, m2 in p:
                if self.optim == "sgd":
                    reference.sgd_step_(
                        w, gw, m1, lr=LR, momentum=0.9, first_step=self.step_no == 1
                    )
                else:
                    reference.adam_step_(w, gw, m1, m2, self.step_no, lr=LR)


# ---------------------------------------------------------------------------- cases
def _models(name, torch):
    """(torch model or None, dlx model, state dict as NumPy) with identical weights."""
    spec = SPECS[name]
    dmodel = build(nn, spec)
    if torch is not None:
        torch.manual_seed(0)
        tmodel = build(torch.nn, spec)
        state = {k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()}
        dmodel.load_state_dict(state)
    else:
        tmodel = None
        state = {k: np.array(v) for k, v in dmodel.state_dict().items()}
    return tmodel, dmodel, state


def training_case(name, torch, batch, with_numpy):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *INPUT[name]), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    tmodel, dmodel, state = _models(name, torch)
    dmodel.train()
    dopt = make_optimizer(dlx, dmodel.parameters(), OPTIM[name])
    dloss = nn.CrossEntropyLoss()
    dx, dy = dlx.from_numpy(x), dlx.from_numpy(y)

    def dlx_step():
        dopt.zero_grad()
        loss = dloss(dmodel(dx), dy)
        loss.backward()
        dopt.step()

    impls = {"dlx": dlx_step}
    if with_numpy:
        ref = NumpyModel(SPECS[name], state, OPTIM[name])
        impls["numpy"] = lambda: ref.train_step(x, y)
    if torch is not None:
        tmodel.train()
        topt = make_optimizer(torch, tmodel.parameters(), OPTIM[name])
        tloss = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            topt.zero_grad()
            loss = tloss(tmodel(tx), ty)
            loss.backward()
            topt.step()

        impls["torch"] = torch_step
    return Case(f"train {name} b{batch} ({OPTIM[name]})", impls, work=(batch, "samples"))


def latency_case(name, torch):
    x = np.random.default_rng(1).standard_normal((1, *INPUT[name]), dtype=np.float32)
    tmodel, dmodel, _ = _models(name, torch)
    dmodel.eval()
    dx = dlx.from_numpy(x)

    def dlx_infer():
        with dlx.no_grad():
            return dmodel(dx)

    impls = {"dlx": dlx_infer}
    if torch is not None:
        tmodel.eval()
        tx = torch.from_numpy(x)

        def torch_infer():
            with torch.no_grad():
                return tmodel(tx)

        impls["torch"] = torch_infer
        ort = _onnxruntime_session(torch, tmodel, tx)
        if ort is not None:
            session, feed = ort
            impls["onnxruntime"] = lambda: session.run(None, feed)
    return Case(f"infer {name} b1 latency", impls, work=(1, "samples"))


def _onnxruntime_session(torch, tmodel, tx):
    """An onnxruntime session of the torch model (exported to ONNX), or None without it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import io

    buf = io.BytesIO()
    try:
        torch.onnx.export(tmodel, (tx,), buf, input_names=["x"], dynamo=False)
    except Exception:  # noqa: BLE001 - an exporter without its dependencies: no peer
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    return session, {"x": tx.numpy()}


SMALL_BATCH = 16


def cases(size: str):
    """Issue-6 batch sizes (full) with PyTorch; the NumPy reference on the CNNs at batch 16
    (the reference CIFAR step takes ~25 s at batch 64 on a loaded 2-core machine)."""
    torch = torch_or_none()
    if size == "full":
        for name in ("mlp", "lenet", "vgg", "cifar"):
            yield training_case(name, torch, BATCH[name], with_numpy=False)
    else:
        yield training_case("mlp", torch, 32, with_numpy=False)
    for name in ("lenet", "vgg", "cifar"):
        yield training_case(name, torch, SMALL_BATCH, with_numpy=True)
    for name in ("mlp", "lenet"):
        yield latency_case(name, torch)
