"""W2: a G x G map through `local(radius=3)` (29 taps, each target its own weights) into a G x G
relu map, then a softmax readout of 10; the loss and every gradient for a batch of 64. Peers:
PyTorch's built-in ways to hold such a projection (a dense matrix times a mask, a sparse CSR
or COO matrix), an expert's hand-written torch gather, and hand-written NumPy."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (Case, Contestant, Goal, check_close, load_data, resized, save_data,
                                torch_csr, torch_masked_dense)

BATCH = 64
GRIDS = (32, 64, 128, 256)
# the largest grid each PyTorch built-in is run at: the dense (n, n) matrix takes 1 GiB at 128
# (4 GiB with its mask and gradient); the backward of CSR and of COO makes a dense (n, n)
# gradient too (CSR: 1.6 GiB peak at 128; COO passed 7 GiB at 256 and kept growing): at 256 that
# is 16 GiB, more than the 2-core machine's memory allows beside the rest
LARGEST = {"dense": 64, "csr": 128, "coo": 128}
BUILT_IN = ("dense", "csr", "coo")


def cases(quick: bool) -> list[Case]:
    return [_case(grid, quick) for grid in ((64,) if quick else GRIDS)]


def _case(grid: int, quick: bool) -> Case:
    labels = {"nndl": "NNDL numpy backend", "dense": "PyTorch dense weight x mask",
              "csr": "PyTorch sparse_csr_tensor", "coo": "PyTorch sparse_coo_tensor",
              "gather": "hand-written torch gather", "hand": "hand-written NumPy padded gather"}
    contestants = [Contestant(k, labels[k], needs="torch" if k in BUILT_IN + ("gather",) else "",
                              skip=_too_large(k, grid)) for k in labels]
    goals = [Goal("nndl", BUILT_IN, 0.15, best="built-in"), Goal("nndl", ("gather",), 0.8)]
    rounds = 3 if quick or grid >= 128 else 10
    return Case(f"W2 local(radius=3) {grid}x{grid}, loss + gradients, batch {BATCH}", "w2_local",
                contestants, goals, rounds=rounds, calls=5 if grid <= 64 else 1,
                settings={"grid": grid})


def _too_large(key: str, grid: int) -> str:
    if grid <= LARGEST.get(key, grid):
        return ""
    gib = (grid * grid) ** 2 * 4 / 2**30 * (4 if key == "dense" else 1)  # + mask and gradients
    return f"its dense (n, n) arrays at grid {grid} take {gib:.0f} GiB"


def nndl_contestant(data: str, grid: int):
    import nndl
    path = resized("w2_local.nndl", "[64, 64]", f"[{grid}, {grid}]")
    net = nndl.compile(path, backend="numpy").Network(seed=0)
    n = grid * grid
    q = net.parameters()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, n)).astype(np.float32)
    y = rng.integers(0, 10, size=BATCH)
    save_data(data, pre=q["image->hidden.pre"], post=q["image->hidden.post"],
              w=q["image->hidden.w"], wy=q["hidden->y.w"].reshape(10, n), by=q["y.bias"],
              bh=q["hidden.bias"], x=x, y=y)
    image = {"image": x.reshape(BATCH, grid, grid)}

    def step():
        return net.loss_and_grad(image, {"y": y}, loss="cross_entropy")

    def to_result(value):
        loss, grads = value
        return {"loss": loss, "w": grads["image->hidden.w"], "wy": grads["hidden->y.w"],
                "bh": grads["hidden.bias"]}
    return step, to_result


def padded(pre, post, n):
    """(n, K) sources per target and a 0/1 mask of the real ones (pads point at source 0)."""
    counts = np.bincount(post, minlength=n)
    column = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
    sources = np.zeros((n, counts.max()), np.int64)
    sources[post, column] = pre
    mask = np.zeros((n, counts.max()), np.float32)
    mask[post, column] = 1.0
    return sources, mask, (post, column)


def hand_contestant(data: str, grid: int):
    """Padded gather of the sources (np.take into a preallocated buffer), its einsum, and the
    weight gradient as a gather-multiply-reduce over the same buffer."""
    p = load_data(data)
    x, y, n = p["x"], p["y"], grid * grid
    sources, mask, at = padded(p["pre"], p["post"], n)
    w = np.zeros(mask.shape, np.float32)
    w[at] = p["w"]
    wy, by, bh = p["wy"], p["by"], p["bh"]
    gathered = np.empty((BATCH,) + sources.shape, np.float32)
    rows = np.arange(BATCH)

    def step():
        np.take(x, sources, axis=1, out=gathered)
        net = np.einsum("bjk,jk->bj", gathered, w) + bh
        h = np.maximum(net, 0.0)
        logits = h @ wy.T + by
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(prob[rows, y]).mean()
        prob[rows, y] -= 1.0
        dlogits = prob / BATCH
        dh = (dlogits @ wy) * (net > 0)
        gw = np.einsum("bj,bjk->jk", dh, gathered)
        return {"loss": loss, "w": gw[at], "wy": dlogits.T @ h, "bh": dh.sum(0)}
    return step, dict


def _torch_contestant(way: str):
    def build(data: str, grid: int):
        import torch
        p = load_data(data)
        n = grid * grid
        x, y = torch.from_numpy(p["x"]), torch.from_numpy(p["y"])
        wy, by, bh = (torch.from_numpy(p[k]).requires_grad_() for k in ("wy", "by", "bh"))
        hidden, weights, weight_grad = TORCH_WAYS[way](torch, p, n)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            for q in (weights, wy, by, bh):
                q.grad = None
            h = torch.relu(hidden(x) + bh)
            loss = loss_fn(h @ wy.T + by, y)
            loss.backward()
            return loss

        def to_result(loss):
            return {"loss": float(loss.detach()), "w": weight_grad().numpy(),
                    "wy": wy.grad.numpy(), "bh": bh.grad.numpy()}
        return step, to_result
    return build


def _dense(torch, p, n):
    masked, weight, grad = torch_masked_dense(torch, p, n)
    return lambda x: x @ masked().T, weight, grad


def _csr(torch, p, n):
    matrix, values, grad = torch_csr(torch, p, n)
    return lambda x: (matrix() @ x.T).T, values, grad


def _coo(torch, p, n):
    index = torch.from_numpy(np.stack([p["post"], p["pre"]]))
    values = torch.from_numpy(p["w"].copy()).requires_grad_()
    return (lambda x: torch.sparse.mm(torch.sparse_coo_tensor(index, values, (n, n),
                                                              is_coalesced=True), x.T).T,
            values, lambda: values.grad)


def _gather(torch, p, n):
    sources, mask, at = padded(p["pre"], p["post"], n)
    sources, mask = torch.from_numpy(sources), torch.from_numpy(mask)
    slots = torch.zeros(mask.shape)
    at = tuple(torch.from_numpy(a) for a in at)
    slots[at] = torch.from_numpy(p["w"])
    slots.requires_grad_()
    return lambda x: (x[:, sources] * (slots * mask)).sum(-1), slots, lambda: slots.grad[at]


TORCH_WAYS = {"dense": _dense, "csr": _csr, "coo": _coo, "gather": _gather}
CONTESTANTS = {"nndl": nndl_contestant, "hand": hand_contestant,
               **{way: _torch_contestant(way) for way in TORCH_WAYS}}


def agree(ours: dict, peer: dict, what: str) -> None:
    check_close(f"{what}: loss", ours["loss"], peer["loss"])
    check_close(f"{what}: local weights' gradient", ours["w"], peer["w"])
    check_close(f"{what}: readout gradient", ours["wy"], peer["wy"].reshape(-1))
    check_close(f"{what}: hidden bias gradient", ours["bh"], peer["bh"])
