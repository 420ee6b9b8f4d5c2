"""W3: a recurrent blob of N tanh neurons (random(p=0.02), delay 1), 16 inputs, 50 ticks,
batch 32, a linear readout of 10 trained with mse on the last tick. Backpropagation through
time against PyTorch (a dense matrix times a mask; a sparse CSR matrix) and hand-written
scipy; the forward run alone against PyTorch CSR and scipy CSR."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (Case, Contestant, Goal, check_close, load_data, resized, save_data,
                                torch_csr, torch_masked_dense)

BATCH, TICKS = 32, 50
SIZES = (1024, 2048, 4096)


def cases(quick: bool) -> list[Case]:
    found = []
    for n in ((2048,) if quick else SIZES):
        rounds = 3 if quick or n == 4096 else 7
        name = f"W3 recurrent {n}, p=0.02, {TICKS} ticks, batch {BATCH}"
        bptt = [Contestant("nndl_bptt", "NNDL numpy backend"),
                Contestant("torch_csr_bptt", "PyTorch sparse_csr_tensor", needs="torch"),
                Contestant("torch_dense_bptt", "PyTorch dense weight x mask", needs="torch"),
                Contestant("scipy_bptt", "scipy CSR BPTT (hand-written)")]
        found.append(Case(f"{name}: BPTT", "w3_recurrent", bptt,
                          [Goal("nndl_bptt", ("torch_csr_bptt", "torch_dense_bptt"), 0.5,
                                best="PyTorch")], rounds=rounds, settings={"n": n}))
        forward = [Contestant("nndl_forward", "NNDL numpy backend"),
                   Contestant("torch_csr_forward", "PyTorch sparse_csr_tensor", needs="torch"),
                   Contestant("scipy_forward", "scipy CSR (hand-written)")]
        found.append(Case(f"{name}: forward", "w3_recurrent", forward,
                          [Goal("nndl_forward", ("torch_csr_forward",), 0.8)],
                          rounds=rounds, calls=3, settings={"n": n}))
    return found


def _nndl(training: bool):
    def build(data: str, n: int):
        import nndl
        path = resized("w3_recurrent.nndl", "blob[2048]", f"blob[{n}]")
        net = nndl.compile(path, backend="numpy").Network(seed=0)
        q = net.parameters()
        rng = np.random.default_rng(0)
        u = rng.normal(size=(TICKS, BATCH, 16)).astype(np.float32)
        target = rng.normal(size=(BATCH, 10)).astype(np.float32)
        save_data(data, pre=q["blob->blob.pre"], post=q["blob->blob.post"], w=q["blob->blob.w"],
                  wu=q["u->blob.w"].reshape(n, 16), bh=q["blob.bias"],
                  wy=q["blob->y.w"].reshape(10, n), by=q["y.bias"], u=u, target=target)
        if not training:
            return lambda: net.run({"u": u})["y"], lambda y: {"y": y}

        def to_result(value):
            loss, grads = value
            return {"loss": loss, "w": grads["blob->blob.w"], "wu": grads["u->blob.w"],
                    "wy": grads["blob->y.w"], "bh": grads["blob.bias"]}
        return lambda: net.loss_and_grad({"u": u}, {"y": target}, loss="mse"), to_result
    return build


def _scipy(training: bool):
    """Hand-written BPTT with scipy CSR: the recurrent weight gradient summed tick by tick."""
    def build(data: str, n: int):
        import scipy.sparse
        p = load_data(data)
        a = scipy.sparse.csr_matrix((p["w"], (p["post"], p["pre"])), shape=(n, n))
        at = a.T.tocsr()
        u, target, wu, bh, wy, by = (p[k] for k in ("u", "target", "wu", "bh", "wy", "by"))

        def forward():
            h = np.zeros((n, BATCH), np.float32)  # neuron-major: scipy's CSR x dense wants rows
            hs = [h]
            drive = u @ wu.T + bh  # (ticks, batch, n)
            for t in range(TICKS):
                h = np.tanh(a @ h + drive[t].T)
                hs.append(h)
            return hs

        def bptt():
            hs = forward()
            diff = hs[-1].T @ wy.T + by - target
            dy = (2.0 * diff / diff.size).astype(np.float32)
            dh = (dy @ wy).T
            gw, gwu, gbh = np.zeros(p["w"].size, np.float32), np.zeros_like(wu), np.zeros_like(bh)
            for t in reversed(range(TICKS)):
                dnet = dh * (1.0 - hs[t + 1] * hs[t + 1])
                gw += np.einsum("ib,ib->i", dnet[p["post"]], hs[t][p["pre"]])
                gwu += dnet @ u[t]
                gbh += dnet.sum(axis=1)
                dh = at @ dnet
            return {"loss": float(np.mean(diff * diff)), "w": gw, "wu": gwu, "bh": gbh,
                    "wy": dy.T @ hs[-1].T}
        if training:
            return bptt, dict
        return lambda: forward()[-1].T @ wy.T + by, lambda y: {"y": y}
    return build


def _torch(layout: str, training: bool):
    def build(data: str, n: int):
        import torch
        p = load_data(data)
        u, target = torch.from_numpy(p["u"]), torch.from_numpy(p["target"])
        wu, bh, wy, by = (torch.from_numpy(p[k]).requires_grad_() for k in ("wu", "bh", "wy", "by"))
        matrix_of, weights, weight_grad = (torch_csr if layout == "csr" else torch_masked_dense)(
            torch, p, n)

        def unroll():
            matrix = matrix_of()
            h = torch.zeros(BATCH, n)
            drive = u @ wu.T + bh
            for t in range(TICKS):
                h = torch.tanh(drive[t] + (matrix @ h.T).T)
            return h @ wy.T + by

        if not training:
            def forward():
                with torch.no_grad():
                    return unroll()
            return forward, lambda y: {"y": y.numpy()}

        def step():
            for q in (weights, wu, bh, wy, by):
                q.grad = None
            loss = torch.mean((unroll() - target) ** 2)
            loss.backward()
            return loss

        def to_result(loss):
            return {"loss": float(loss.detach()), "w": weight_grad().numpy(),
                    "wu": wu.grad.numpy(), "wy": wy.grad.numpy(), "bh": bh.grad.numpy()}
        return step, to_result
    return build


CONTESTANTS = {"nndl_bptt": _nndl(True), "nndl_forward": _nndl(False),
               "scipy_bptt": _scipy(True), "scipy_forward": _scipy(False),
               "torch_csr_bptt": _torch("csr", True), "torch_dense_bptt": _torch("dense", True),
               "torch_csr_forward": _torch("csr", False)}


def agree(ours: dict, peer: dict, what: str) -> None:
    if "y" in ours:
        check_close(f"{what}: output", ours["y"], peer["y"])
        return
    check_close(f"{what}: loss", ours["loss"], peer["loss"])
    check_close(f"{what}: recurrent gradient", ours["w"], peer["w"])
    check_close(f"{what}: input gradient", ours["wu"], peer["wu"].reshape(-1))
    check_close(f"{what}: readout gradient", ours["wy"], peer["wy"].reshape(-1))
    check_close(f"{what}: blob bias gradient", ours["bh"], peer["bh"])
