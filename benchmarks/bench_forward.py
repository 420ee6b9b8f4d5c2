"""Forward pass of an MLP (benchmarks/mlp.nndl) and the compile cache, against peers in-process.

    python benchmarks/bench_forward.py [--batch 128] [--repeat 50]

Prints the median time of each and NNDL's ratio to each peer (below 1: NNDL is faster).
Peers: PyTorch CPU nn.Linear (if installed) and hand-written NumPy with the same weights.
A quick look in one process; the honest comparison, each side in its own process, is W1 of
`python -m benchmarks`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["NNDL_CACHE_DIR"] = tempfile.mkdtemp(prefix="nndl-bench-")  # a cold cache every run
import numpy as np  # noqa: E402

import nndl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's root
from benchmarks import harness  # noqa: E402

HERE = Path(__file__).resolve().parent


def median_time(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hand_numpy(weights: list[tuple[np.ndarray, np.ndarray]]):
    def forward(x):
        for i, (w, b) in enumerate(weights):
            x = x @ w.T + b
            if i < len(weights) - 1:
                x = np.maximum(x, 0.0)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return forward


def torch_mlp(weights, softmax: bool):
    """The MLP in PyTorch at its default threads (see harness.torch_mlp)."""
    import torch
    return harness.torch_mlp(torch, weights, softmax)


def torch_forward(weights):
    import torch
    model = torch_mlp(weights, softmax=True)

    def forward(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()
    return forward


def bench_forward(batch: int, repeat: int) -> None:
    net = nndl.compile(HERE / "mlp.nndl", backend="numpy").Network(seed=0)
    x = np.random.default_rng(0).normal(size=(batch, 784)).astype(np.float32)
    p = net.parameters()
    weights = [(p[f"{a}->{b}.w"].reshape(-1, n), p[f"{b}.bias"])
               for a, b, n in (("x", "h1", 784), ("h1", "h2", 256), ("h2", "y", 256))]
    ours = median_time(lambda: net.run(x=x), repeat)
    peers = {"hand-written NumPy": hand_numpy(weights)}
    try:
        peers["PyTorch CPU nn.Linear"] = torch_forward(weights)
    except ImportError:
        print("(PyTorch not installed: that peer is skipped)")
    reference = net.run(x=x)["y"]
    print(f"MLP 784-256-256-10 forward, batch {batch}, float32, 2 threads")
    print(f"  NNDL numpy backend       {ours * 1e3:8.3f} ms")
    for name, fn in peers.items():
        assert np.allclose(fn(x), reference, atol=1e-5), f"{name} computes something else"
        t = median_time(lambda: fn(x), repeat)
        print(f"  {name:<24} {t * 1e3:8.3f} ms   NNDL / peer = {ours / t:.2f}")


def bench_cache(repeat: int) -> None:
    """First compile in a fresh process and cache (grammar load included), then cache hits."""
    start = time.perf_counter()
    nndl.compile(HERE / "mlp.nndl", backend="numpy")
    cold = time.perf_counter() - start
    warm = median_time(lambda: nndl.compile(HERE / "mlp.nndl", backend="numpy"), repeat)
    print(f"nndl.compile: cold (grammar, parse, check, generate) {cold * 1e3:.1f} ms, "
          f"warm (cache hit) {warm * 1e3:.2f} ms   hit / miss = {warm / cold:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    bench_cache(max(5, args.repeat // 10))
    bench_forward(args.batch, args.repeat)


if __name__ == "__main__":
    main()
