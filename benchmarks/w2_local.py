"""W2: a G x G map through `local(radius=3)` (29 taps, each target its own weights) into a G x G
relu map, then a softmax readout of 10; the loss and every gradient for a batch of 64. Peers:
PyTorch's built-in ways to hold such a projection (a dense matrix times a mask, a sparse CSR
or COO matrix), an expert's hand-written torch gather, and hand-written NumPy."""

from __future__ import annotations

import functools
import warnings

import numpy as np

import nndl
from benchmarks.harness import Row, check_close, interleaved, resized, torch_threads

BATCH = 64


def padded(pre, post, n):
    """(n, K) sources per target and a 0/1 mask of the real ones (pads point at source 0)."""
    counts = np.bincount(post, minlength=n)
    width = counts.max()
    column = np.arange(pre.size) - np.repeat(np.cumsum(counts) - counts, counts)
    sources = np.zeros((n, width), np.int64)
    sources[post, column] = pre
    mask = np.zeros((n, width), np.float32)
    mask[post, column] = 1.0
    return sources, mask, (post, column)


def hand_numpy(p, n):
    """Padded gather of the sources (np.take into a preallocated buffer), its einsum, and the
    weight gradient as a gather-multiply-reduce over the same buffer."""
    sources, mask, at = padded(p["pre"], p["post"], n)
    w = np.zeros(mask.shape, np.float32)
    w[at] = p["w"]
    wy, by, bh = p["wy"], p["by"], p["bh"]
    gathered = np.empty((BATCH,) + sources.shape, np.float32)

    def step(x, y):
        np.take(x, sources, axis=1, out=gathered)
        net = np.einsum("bjk,jk->bj", gathered, w) + bh
        h = np.maximum(net, 0.0)
        logits = h @ wy.T + by
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(prob[np.arange(BATCH), y]).mean()
        prob[np.arange(BATCH), y] -= 1.0
        dlogits = prob / BATCH
        dh = (dlogits @ wy) * (net > 0)
        gw = np.einsum("bj,bjk->jk", dh, gathered)
        return loss, {"w": gw[at], "wy": dlogits.T @ h, "bh": dh.sum(0), "by": dlogits.sum(0)}
    return step


def torch_peers(torch, p, n):
    """{name: step} for each PyTorch way; each step returns the loss and the gradients."""
    pre, post = torch.from_numpy(p["pre"]), torch.from_numpy(p["post"])
    wy = torch.from_numpy(p["wy"]).requires_grad_()
    by = torch.from_numpy(p["by"]).requires_grad_()
    bh = torch.from_numpy(p["bh"]).requires_grad_()
    loss_fn = torch.nn.CrossEntropyLoss()

    def finish(net, x, y, params, weight_grad):
        for q in params + [wy, by, bh]:
            q.grad = None
        h = torch.relu(net + bh)
        loss = loss_fn(h @ wy.T + by, y)
        loss.backward()
        return float(loss.detach()), {"w": weight_grad(), "wy": wy.grad, "by": by.grad,
                                      "bh": bh.grad}

    peers = {}
    values = torch.from_numpy(p["w"].copy()).requires_grad_()
    if n <= 4096:  # a dense (n, n) matrix: 1 GiB at grid 128, with its mask and gradient 4 GiB
        dense = torch.zeros(n, n)
        dense[post, pre] = values.detach()
        dense.requires_grad_()
        mask = torch.zeros(n, n)
        mask[post, pre] = 1.0
        peers["PyTorch dense weight x mask"] = lambda x, y: finish(
            x @ (dense * mask).T, x, y, [dense], lambda: dense.grad[post, pre])
    crow = torch.from_numpy(np.concatenate([[0], np.cumsum(np.bincount(p["post"],
                                                                       minlength=n))]))
    peers["PyTorch sparse_csr_tensor"] = lambda x, y: finish(
        (torch.sparse_csr_tensor(crow, pre, values, (n, n)) @ x.T).T, x, y, [values],
        lambda: values.grad)
    index = torch.stack([post, pre])
    peers["PyTorch sparse_coo_tensor"] = lambda x, y: finish(
        torch.sparse.mm(torch.sparse_coo_tensor(index, values, (n, n), is_coalesced=True),
                        x.T).T, x, y, [values], lambda: values.grad)
    sources, mask_k, at = padded(p["pre"], p["post"], n)
    sources, mask_k = torch.from_numpy(sources), torch.from_numpy(mask_k)
    slots = torch.zeros(mask_k.shape)
    slots[at] = values.detach()
    slots.requires_grad_()
    at_t = tuple(torch.from_numpy(a) for a in at)
    peers["hand-written torch gather"] = lambda x, y: finish(
        (x[:, sources] * (slots * mask_k)).sum(-1), x, y, [slots], lambda: slots.grad[at_t])
    return peers


def nndl_network(grid: int):
    path = resized("w2_local.nndl", "[64, 64]", f"[{grid}, {grid}]")
    return nndl.compile(path, backend="numpy").Network(seed=0)


def run(quick: bool, grids=(32, 64, 128)) -> list[Row]:
    rows = []
    for grid in ((64,) if quick else grids):
        rows += _one_grid(grid, rounds=5 if quick or grid == 128 else 15)
    return rows


def _one_grid(grid: int, rounds: int) -> list[Row]:
    n = grid * grid
    net = nndl_network(grid)
    q = net.parameters()
    p = {"pre": q["image->hidden.pre"], "post": q["image->hidden.post"],
         "w": q["image->hidden.w"], "wy": q["hidden->y.w"].reshape(10, n), "by": q["y.bias"],
         "bh": q["hidden.bias"]}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, n)).astype(np.float32)
    y = rng.integers(0, 10, size=BATCH)

    def ours():
        return net.loss_and_grad({"image": x.reshape(BATCH, grid, grid)}, {"y": y},
                                 loss="cross_entropy")

    loss, grads = ours()
    fns = {"ours": ours}
    hand = hand_numpy(p, n)
    fns["hand-written NumPy padded gather"] = lambda: hand(x, y)
    _check(grid, loss, grads, *hand(x, y), "hand NumPy")
    torch = torch_threads()
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sparse tensors are "beta"
            for name, step in torch_peers(torch, p, n).items():
                peer_loss, peer_grads = step(tx, ty)
                _check(grid, loss, grads, peer_loss,
                       {k: v.numpy() for k, v in peer_grads.items()}, name)
                fns[name] = functools.partial(step, tx, ty)
            t = interleaved(fns, rounds)
    else:
        t = interleaved(fns, rounds)
    name = f"W2 local(radius=3) {grid}x{grid}, loss + gradients, batch {BATCH}"
    built_in = [k for k in t if k.startswith("PyTorch")]
    best = min(built_in, key=t.get) if built_in else None
    rows = []
    for peer in t:
        if peer == "ours":
            continue
        goal = 0.15 if peer == best else 1.0 if peer == "hand-written torch gather" else None
        label = f"{peer} (best built-in)" if peer == best else peer
        rows.append(Row(name, label, t["ours"], t[peer], goal))
    return rows


def _check(grid, loss, grads, peer_loss, peer_grads, peer):
    what = f"W2 grid {grid} vs {peer}"
    check_close(f"{what}: loss", loss, peer_loss)
    check_close(f"{what}: local weights' gradient", grads["image->hidden.w"], peer_grads["w"])
    check_close(f"{what}: readout gradient", grads["hidden->y.w"], peer_grads["wy"].reshape(-1))
    check_close(f"{what}: hidden bias gradient", grads["hidden.bias"], peer_grads["bh"])
