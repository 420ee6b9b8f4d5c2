"""W3: a recurrent blob of N tanh neurons (random(p=0.02), delay 1), 16 inputs, 50 ticks,
batch 32, a linear readout of 10 trained with mse on the last tick. Backpropagation through
time against PyTorch (a dense matrix times a mask; a sparse CSR matrix) and hand-written
scipy; the forward run alone against PyTorch CSR and scipy CSR."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.sparse

import nndl
from benchmarks.harness import Row, check_close, interleaved, resized, torch_threads

BATCH, TICKS = 32, 50


def weights(net, n):
    q = net.parameters()
    return {"pre": q["blob->blob.pre"], "post": q["blob->blob.post"], "w": q["blob->blob.w"],
            "wu": q["u->blob.w"].reshape(n, 16), "bh": q["blob.bias"],
            "wy": q["blob->y.w"].reshape(10, n), "by": q["y.bias"]}


def scipy_peer(p, n):
    """Hand-written BPTT with scipy CSR: the recurrent weight gradient summed tick by tick."""
    a = scipy.sparse.csr_matrix((p["w"], (p["post"], p["pre"])), shape=(n, n))
    at = a.T.tocsr()
    wu, bh, wy, by = p["wu"], p["bh"], p["wy"], p["by"]

    def forward(u):
        h = np.zeros((n, BATCH), np.float32)  # neuron-major: scipy's CSR x dense wants rows
        hs = [h]
        drive = u @ wu.T + bh  # (ticks, batch, n)
        for t in range(TICKS):
            h = np.tanh(a @ h + drive[t].T)
            hs.append(h)
        return hs

    def run(u):
        return forward(u)[-1].T @ wy.T + by

    def bptt(u, target):
        hs = forward(u)
        yv = hs[-1].T @ wy.T + by
        diff = yv - target
        loss = float(np.mean(diff * diff))
        dy = (2.0 * diff / diff.size).astype(np.float32)
        dh = (dy @ wy).T
        gw = np.zeros(p["w"].size, np.float32)
        gwu = np.zeros_like(wu)
        gbh = np.zeros_like(bh)
        for t in reversed(range(TICKS)):
            dnet = dh * (1.0 - hs[t + 1] * hs[t + 1])
            gw += np.einsum("ib,ib->i", dnet[p["post"]], hs[t][p["pre"]])
            gwu += dnet @ u[t]
            gbh += dnet.sum(axis=1)
            dh = at @ dnet
        return loss, {"w": gw, "wu": gwu, "bh": gbh, "wy": dy.T @ hs[-1].T, "by": dy.sum(0)}
    return run, bptt


def torch_peers(torch, p, n, dense: bool):
    pre, post = torch.from_numpy(p["pre"]), torch.from_numpy(p["post"])
    wu = torch.from_numpy(p["wu"]).requires_grad_()
    bh = torch.from_numpy(p["bh"]).requires_grad_()
    wy = torch.from_numpy(p["wy"]).requires_grad_()
    by = torch.from_numpy(p["by"]).requires_grad_()
    values = torch.from_numpy(p["w"].copy()).requires_grad_()
    crow = torch.from_numpy(np.concatenate([[0], np.cumsum(np.bincount(p["post"],
                                                                       minlength=n))]))

    def unroll(u, matrix):
        h = torch.zeros(BATCH, n)
        drive = u @ wu.T + bh
        for t in range(TICKS):
            h = torch.tanh(drive[t] + (matrix @ h.T).T)
        return h @ wy.T + by

    def bptt(matrix_of, params, weight_grad):
        def step(u, target):
            for q in params + [wu, bh, wy, by]:
                q.grad = None
            loss = torch.mean((unroll(u, matrix_of()) - target) ** 2)
            loss.backward()
            return float(loss.detach()), {"w": weight_grad(), "wu": wu.grad, "bh": bh.grad,
                                          "wy": wy.grad, "by": by.grad}
        return step

    def csr():
        return torch.sparse_csr_tensor(crow, pre, values, (n, n))

    peers = {"PyTorch sparse_csr_tensor": bptt(csr, [values], lambda: values.grad)}
    if dense:
        matrix = torch.zeros(n, n)
        matrix[post, pre] = values.detach()
        matrix.requires_grad_()
        mask = torch.zeros(n, n)
        mask[post, pre] = 1.0
        peers["PyTorch dense weight x mask"] = bptt(lambda: matrix * mask, [matrix],
                                                    lambda: matrix.grad[post, pre])

    def forward(u):
        with torch.no_grad():
            return unroll(u, csr())
    return peers, forward


def nndl_network(n: int):
    path = resized("w3_recurrent.nndl", "blob[2048]", f"blob[{n}]")
    return nndl.compile(path, backend="numpy").Network(seed=0)


def run(quick: bool, sizes=(1024, 2048, 4096)) -> list[Row]:
    rows = []
    for n in ((2048,) if quick else sizes):
        rows += _one_size(n, rounds=3 if quick or n == 4096 else 7)
    return rows


def _one_size(n: int, rounds: int) -> list[Row]:
    net = nndl_network(n)
    p = weights(net, n)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(TICKS, BATCH, 16)).astype(np.float32)
    target = rng.normal(size=(BATCH, 10)).astype(np.float32)

    def ours_run():
        return net.run({"u": u})["y"]

    def ours_bptt():
        return net.loss_and_grad({"u": u}, {"y": target}, loss="mse")

    out = ours_run()
    loss, grads = ours_bptt()
    sp_run, sp_bptt = scipy_peer(p, n)
    check_close(f"W3 {n} forward vs scipy", out, sp_run(u))
    _check(n, loss, grads, *sp_bptt(u, target), "hand scipy")
    fwd = {"ours": ours_run, "scipy CSR (hand-written)": lambda: sp_run(u)}
    back = {"ours": ours_bptt, "scipy CSR BPTT (hand-written)": lambda: sp_bptt(u, target)}
    torch = torch_threads()
    if torch is not None:
        tu, tt = torch.from_numpy(u), torch.from_numpy(target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peers, forward = torch_peers(torch, p, n, dense=n <= 4096)
            check_close(f"W3 {n} forward vs PyTorch CSR", out, forward(tu).numpy())
            fwd["PyTorch sparse_csr_tensor"] = lambda: forward(tu)
            for name, step in peers.items():
                peer_loss, peer_grads = step(tu, tt)
                _check(n, loss, grads, peer_loss,
                       {k: v.numpy() for k, v in peer_grads.items()}, name)
                back[name] = functools.partial(step, tu, tt)
            t_fwd = interleaved(fwd, rounds)
            t_back = interleaved(back, rounds)
    else:
        t_fwd, t_back = interleaved(fwd, rounds), interleaved(back, rounds)
    rows = []
    name = f"W3 recurrent {n}, p=0.02, {TICKS} ticks, batch {BATCH}"
    best = min((k for k in t_back if k.startswith("PyTorch")), key=t_back.get, default=None)
    for peer, t in t_back.items():
        if peer != "ours":
            goal = 0.6 if peer == best else None
            rows.append(Row(f"{name}: BPTT", peer + (" (best PyTorch)" if goal else ""),
                            t_back["ours"], t, goal))
    for peer, t in t_fwd.items():
        if peer != "ours":
            goal = 1.0 if peer.startswith("PyTorch") else None
            rows.append(Row(f"{name}: forward", peer, t_fwd["ours"], t, goal))
    return rows


def _check(n, loss, grads, peer_loss, peer_grads, peer):
    what = f"W3 {n} vs {peer}"
    check_close(f"{what}: loss", loss, peer_loss)
    check_close(f"{what}: recurrent gradient", grads["blob->blob.w"], peer_grads["w"])
    check_close(f"{what}: input gradient", grads["u->blob.w"], peer_grads["wu"].reshape(-1))
    check_close(f"{what}: readout gradient", grads["blob->y.w"], peer_grads["wy"].reshape(-1))
    check_close(f"{what}: blob bias gradient", grads["blob.bias"], peer_grads["bh"])
