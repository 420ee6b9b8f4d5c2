"""W1: an MLP 784-256-256-10 (mlp.nndl), softmax and cross-entropy: the loss and every gradient
for a batch of 128, against PyTorch (nn.Linear + autograd) and hand-written NumPy."""

from __future__ import annotations

import numpy as np

import nndl
from benchmarks.harness import HERE, Row, check_close, interleaved, torch_mlp, torch_threads

LAYERS = (("x", "h1", 784), ("h1", "h2", 256), ("h2", "y", 256))


def hand_numpy(weights, batch):
    """Forward and backward with preallocated buffers and out= everywhere."""
    sizes = [w.shape[0] for w, _ in weights]
    acts = [np.empty((batch, n), np.float32) for n in sizes]
    grads = [(np.empty_like(w), np.empty_like(b)) for w, b in weights]
    deltas = [np.empty((batch, n), np.float32) for n in sizes]

    def step(x, y):
        inputs = [x] + acts[:-1]
        for i, (w, b) in enumerate(weights):
            np.matmul(inputs[i], w.T, out=acts[i])
            acts[i] += b
            if i < len(weights) - 1:
                np.maximum(acts[i], 0.0, out=acts[i])
        logits = acts[-1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(batch), y]).mean()
        d = deltas[-1]
        np.copyto(d, p)
        d[np.arange(batch), y] -= 1.0
        d /= batch
        for i in reversed(range(len(weights))):
            gw, gb = grads[i]
            np.matmul(deltas[i].T, inputs[i], out=gw)
            deltas[i].sum(axis=0, out=gb)
            if i:
                np.matmul(deltas[i], weights[i][0], out=deltas[i - 1])
                deltas[i - 1] *= acts[i - 1] > 0
        return loss, grads
    return step


def torch_autograd(torch, weights):
    model = torch_mlp(torch, weights)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(x), y)
        loss.backward()
        return float(loss.detach()), [(m.weight.grad, m.bias.grad) for m in model[::2]]
    return step


def run(quick: bool) -> list[Row]:
    batch, rounds = 128, 30 if quick else 100
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=batch)
    net = nndl.compile(HERE / "mlp.nndl", backend="numpy").Network(seed=0)
    p = net.parameters()
    weights = [(p[f"{a}->{b}.w"].reshape(-1, n).copy(), p[f"{b}.bias"].copy())
               for a, b, n in LAYERS]

    def ours():
        return net.loss_and_grad({"x": x}, {"y": y}, loss="cross_entropy")

    loss, grads = ours()
    fns = {"ours": ours}
    hand = hand_numpy(weights, batch)
    fns["hand"] = lambda: hand(x, y)
    peer_loss, peer_grads = hand(x, y)
    _check(loss, grads, peer_loss, peer_grads, "hand-written NumPy")
    torch = torch_threads()
    if torch is not None:
        step = torch_autograd(torch, weights)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch"] = lambda: step(tx, ty)
        peer_loss, peer_grads = step(tx, ty)
        _check(loss, grads, peer_loss, [(w.numpy(), b.numpy()) for w, b in peer_grads],
               "PyTorch")
    t = interleaved(fns, rounds, inner=5)
    name = "W1 MLP 784-256-256-10, loss + gradients, batch 128"
    rows = [Row(name, "hand NumPy, preallocated", t["ours"], t["hand"])]
    if "torch" in t:
        rows.insert(0, Row(name, "PyTorch nn.Linear + autograd", t["ours"], t["torch"], 0.95))
    return rows


def _check(loss, grads, peer_loss, peer_grads, peer):
    check_close(f"W1 loss vs {peer}", loss, peer_loss)
    for (a, b, _), (gw, gb) in zip(LAYERS, peer_grads):
        check_close(f"W1 {a}->{b}.w gradient vs {peer}", grads[f"{a}->{b}.w"], gw.reshape(-1))
        check_close(f"W1 {b}.bias gradient vs {peer}", grads[f"{b}.bias"], gb)
