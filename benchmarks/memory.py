"""Peak memory (RSS) of W2 and W3, NNDL against PyTorch's dense weight x mask and CSR: each
contestant runs in its own process (peak RSS only grows), which imports the same libraries,
builds the workload and runs one step three times. A process that builds it all and runs
nothing gives the baseline.

    python -m benchmarks.memory [--quick]
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import warnings

from benchmarks import harness

CONTESTANTS = ("baseline", "NNDL", "PyTorch dense weight x mask", "PyTorch sparse_csr_tensor")


def _measure(workload: str, size: int, who: str) -> None:
    """In the child: build, run three times, print the peak RSS in MiB."""
    import numpy as np
    import torch

    from benchmarks import w2_local, w3_recurrent

    warnings.simplefilter("ignore")
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    if workload == "W2":
        net = w2_local.nndl_network(size)
        n = size * size
        q = net.parameters()
        p = {"pre": q["image->hidden.pre"], "post": q["image->hidden.post"],
             "w": q["image->hidden.w"], "wy": q["hidden->y.w"].reshape(10, n),
             "by": q["y.bias"], "bh": q["hidden.bias"]}
        x = rng.normal(size=(w2_local.BATCH, n)).astype(np.float32)
        y = rng.integers(0, 10, size=w2_local.BATCH)
        ours = functools.partial(net.loss_and_grad, {"image": x.reshape(-1, size, size)},
                                 {"y": y}, loss="cross_entropy")
        peers = w2_local.torch_peers(torch, p, n) if who.startswith("PyTorch") else {}
        args = (torch.from_numpy(x), torch.from_numpy(y))
    else:
        net = w3_recurrent.nndl_network(size)
        p = w3_recurrent.weights(net, size)
        u = rng.normal(size=(w3_recurrent.TICKS, w3_recurrent.BATCH, 16)).astype(np.float32)
        target = rng.normal(size=(w3_recurrent.BATCH, 10)).astype(np.float32)
        ours = functools.partial(net.loss_and_grad, {"u": u}, {"y": target}, loss="mse")
        peers = w3_recurrent.torch_peers(torch, p, size, dense=True)[0] \
            if who.startswith("PyTorch") else {}
        args = (torch.from_numpy(u), torch.from_numpy(target))
    step = {"baseline": None, "NNDL": ours}.get(who) or (
        functools.partial(peers[who], *args) if who in peers else None)
    for _ in range(3 if step else 0):
        step()
    print(f"{harness.peak_rss_mib():.0f}")


def peak(workload: str, size: int, who: str) -> float:
    result = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", workload,
                             str(size), who], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def run(quick: bool) -> list[str]:
    """Markdown table lines: peak RSS per contestant, W2 by grid and W3 by blob size."""
    cases = [("W2", 64), ("W3", 2048)] if quick else \
        [("W2", 32), ("W2", 64), ("W2", 128), ("W3", 1024), ("W3", 2048), ("W3", 4096)]
    lines = ["| workload | size | " + " | ".join(CONTESTANTS) + " |",
             "|---|---|" + "---|" * len(CONTESTANTS)]
    for workload, size in cases:
        cells = []
        for who in CONTESTANTS:
            if who == "PyTorch dense weight x mask" and workload == "W2" and size > 64:
                cells.append("(4 GiB: not run)")
                continue
            cells.append(f"{peak(workload, size, who):.0f} MiB")
        label = f"{size}x{size}" if workload == "W2" else f"{size} neurons"
        lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _measure(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    load_before = harness.load()
    lines = run(args.quick)
    harness.append_section("Peak memory (RSS) of W2 and W3", lines, load_before)


if __name__ == "__main__":
    main()
