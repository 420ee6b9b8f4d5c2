"""GPU benchmarks: the cupy backend against PyTorch CUDA, float32, one training step each (the
loss and every gradient) and one forward pass.

    python -m benchmarks.bench_gpu [--rounds N]

W1: the MLP 784-256-256-10 of benchmarks/mlp.nndl, batch 256, against torch.nn.Linear layers.
W2: benchmarks/w2_local.nndl (a 64x64 map, `local(radius=3)` with each target's own 29 weights,
then a softmax readout), batch 64, against a hand-written torch gather (the fastest PyTorch way
in benchmarks/w2_local.py on the CPU). Both sides start from the same weights and their losses
must agree to 1e-4 before anything is timed. NNDL's times include copying its gradients and
outputs back to the host (its API returns NumPy arrays); PyTorch's end at a device synchronise.
Without a GPU, CuPy or a CUDA build of PyTorch it says which is missing and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import nndl
from nndl import backends

HERE = Path(__file__).parent


def missing() -> str | None:
    """Why the benchmark cannot run here, or None."""
    reason = backends.unavailable("cupy")
    if reason:
        return reason
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    return None if torch.cuda.is_available() else "PyTorch has no CUDA device"


def median_ms(step, rounds: int, sync) -> tuple[float, float, float]:
    """Milliseconds a call, min / median / max over the rounds (after a warm-up call)."""
    step()
    sync()  # warm: kernels compiled, memory pools filled
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        sync()
        times.append(1000 * (time.perf_counter() - start))
    return min(times), statistics.median(times), max(times)


def mlp(torch, rounds: int) -> list[tuple[str, tuple, tuple]]:
    batch = 256
    net = nndl.compile(HERE / "mlp.nndl", backend="cupy").Network(seed=0)
    q = net.parameters()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    layers = [("x->h1", "h1"), ("h1->h2", "h2"), ("h2->y", "y")]
    weights = [torch.tensor(q[f"{p}.w"].reshape(q[f"{g}.bias"].size, -1), device="cuda",
                            requires_grad=True) for p, g in layers]
    biases = [torch.tensor(q[f"{g}.bias"], device="cuda", requires_grad=True) for _, g in layers]
    tx, ty = torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda")

    def forward():
        h = tx
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = h @ w.T + b
            h = torch.relu(h) if i < 2 else h
        return h

    def torch_step():
        for p in weights + biases:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(forward(), ty)
        loss.backward()
        return float(loss.detach())

    ours = net.loss_and_grad({"x": x}, {"y": y}, loss="cross_entropy")[0]
    assert abs(ours - torch_step()) < 1e-4, (ours, torch_step())
    sync = torch.cuda.synchronize
    return [
        ("W1 MLP training step", median_ms(lambda: net.loss_and_grad(
            {"x": x}, {"y": y}, loss="cross_entropy"), rounds, sync),
         median_ms(torch_step, rounds, sync)),
        ("W1 MLP forward", median_ms(lambda: net.run(x=x), rounds, sync),
         median_ms(lambda: torch.softmax(forward(), -1).cpu(), rounds, sync)),
    ]


def local(torch, rounds: int) -> list[tuple[str, tuple, tuple]]:
    batch, n = 64, 64 * 64
    net = nndl.compile(HERE / "w2_local.nndl", backend="cupy").Network(seed=0)
    q = net.parameters()
    pre, post = q["image->hidden.pre"], q["image->hidden.post"]
    counts = np.bincount(post, minlength=n)
    column = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
    sources = np.zeros((n, counts.max()), np.int64)
    sources[post, column] = pre
    slots = np.zeros(sources.shape, np.float32)
    slots[post, column] = q["image->hidden.w"]
    mask = (np.zeros(sources.shape, np.float32))
    mask[post, column] = 1.0

    def cuda(a, grad=False):
        return torch.tensor(a, device="cuda", requires_grad=grad)

    src, msk, w = cuda(sources), cuda(mask), cuda(slots, True)
    wy, by, bh = (cuda(q[k].reshape(s), True) for k, s in
                  (("hidden->y.w", (10, n)), ("y.bias", (10,)), ("hidden.bias", (n,))))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, n)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    tx, ty = cuda(x), cuda(y)

    def torch_step():
        for p in (w, wy, by, bh):
            p.grad = None
        h = torch.relu((tx[:, src] * (w * msk)).sum(-1) + bh)
        loss = torch.nn.functional.cross_entropy(h @ wy.T + by, ty)
        loss.backward()
        return float(loss.detach())

    image = {"image": x.reshape(batch, 64, 64)}
    ours = net.loss_and_grad(image, {"y": y}, loss="cross_entropy")[0]
    assert abs(ours - torch_step()) < 1e-4, (ours, torch_step())
    return [("W2 local(radius=3) training step", median_ms(lambda: net.loss_and_grad(
        image, {"y": y}, loss="cross_entropy"), rounds, torch.cuda.synchronize),
        median_ms(torch_step, rounds, torch.cuda.synchronize))]


def _spread(ms: tuple[float, float, float]) -> str:
    low, median, high = ms
    return f"{median:.2f} ({low:.2f}-{high:.2f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(f"GPU benchmarks skipped: {reason}")
        return 0
    import torch

    print(f"{torch.cuda.get_device_name()}: ms a call, median (min-max) of {args.rounds} "
          "rounds, float32; PyTorch at its defaults")
    print(f"{'workload':<36} {'NNDL cupy':>22} {'PyTorch':>22} {'ratio':>7}")
    for name, ours, theirs in mlp(torch, args.rounds) + local(torch, args.rounds):
        print(f"{name:<36} {_spread(ours):>22} {_spread(theirs):>22} "
              f"{ours[1] / theirs[1]:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
