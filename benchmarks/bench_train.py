"""Training step of an MLP (benchmarks/mlp.nndl), NNDL's NumPy backend against PyTorch CPU.

    python benchmarks/bench_train.py [--batch 128] [--steps 50]

One step = forward, cross-entropy, backward, Adam update, on random float32 data; both start from
the same weights (NNDL's, copied into PyTorch) and the first step's loss is checked to agree.
Prints the median step time of each and NNDL / PyTorch (below 1: NNDL is faster).
A quick look in one process; the honest comparison, each side in its own process, is W1 of
`python -m benchmarks`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import nndl  # noqa: E402
from nndl.runtime.optimizers import Adam  # noqa: E402

from bench_forward import median_time, torch_mlp  # noqa: E402  (benchmarks/ is the script's folder)

HERE = Path(__file__).resolve().parent
LAYERS = (("x", "h1", 784), ("h1", "h2", 256), ("h2", "y", 256))


def nndl_step(net, x, y):
    optimizer = Adam(lr=1e-3)

    def step():
        loss, grads = net.loss_and_grad({"x": x}, {"y": y}, loss="cross_entropy")
        params = net._trainable()
        optimizer.step(params, grads)
        net._trained(params)
        return loss
    return step


def torch_step(weights, x, y):
    import torch
    model = torch_mlp(weights, softmax=False)  # logits: CrossEntropyLoss fuses the softmax
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(tx), ty)
        loss.backward()
        optimizer.step()
        return float(loss.detach())
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=args.batch)
    net = nndl.compile(HERE / "mlp.nndl", backend="numpy").Network(seed=0)
    p = net.parameters()
    weights = [(p[f"{a}->{b}.w"].reshape(-1, n).copy(), p[f"{b}.bias"].copy())
               for a, b, n in LAYERS]
    ours = nndl_step(net, x, y)
    print(f"MLP 784-256-256-10 training step (forward, cross-entropy, backward, Adam), "
          f"batch {args.batch}, float32, 2 threads, median of {args.steps}")
    # NNDL is timed before PyTorch runs anything: PyTorch's OpenMP threads keep spinning after
    # each of its operations and would steal the cores from NumPy's BLAS.
    first_ours = ours()
    t_ours = median_time(ours, args.steps)
    print(f"  NNDL numpy backend   {t_ours * 1e3:8.3f} ms")
    try:
        theirs = torch_step(weights, x, y)
    except ImportError:
        print("(PyTorch not installed: that peer is skipped)")
        return
    first_theirs = theirs()
    assert abs(first_ours - first_theirs) < 1e-4 * max(1.0, abs(first_theirs)), \
        f"the first losses differ: {first_ours} vs {first_theirs}"
    t_theirs = median_time(theirs, args.steps)
    print(f"  PyTorch CPU          {t_theirs * 1e3:8.3f} ms   NNDL / peer = "
          f"{t_ours / t_theirs:.2f}")


if __name__ == "__main__":
    main()
