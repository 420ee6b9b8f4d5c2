"""W1: an MLP 784-256-256-10 (mlp.nndl), softmax and cross-entropy: the loss and every gradient
for a batch of 128, against PyTorch (nn.Linear + autograd, at its defaults) and hand-written
NumPy."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (HERE, Case, Contestant, Goal, agree_all, load_data, save_data,
                                torch_mlp)

LAYERS = (("x", "h1", 784), ("h1", "h2", 256), ("h2", "y", 256))
BATCH = 128
NAME = f"W1 MLP 784-256-256-10, loss + gradients, batch {BATCH}"


def cases(quick: bool) -> list[Case]:
    contestants = [Contestant("nndl", "NNDL numpy backend"),
                   Contestant("torch", "PyTorch nn.Linear + autograd", needs="torch"),
                   Contestant("hand", "hand-written NumPy, preallocated")]
    goals = [Goal("nndl", ("torch",), 0.9), Goal("nndl", ("hand",), 0.9)]
    return [Case(NAME, "w1_mlp", contestants, goals, rounds=10 if quick else 25, calls=20)]


def nndl_contestant(data: str):
    import nndl
    net = nndl.compile(HERE / "mlp.nndl", backend="numpy").Network(seed=0)
    p = net.parameters()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=BATCH)
    weights = {}
    for i, (a, b, n) in enumerate(LAYERS):
        weights[f"w{i}"] = p[f"{a}->{b}.w"].reshape(-1, n)
        weights[f"b{i}"] = p[f"{b}.bias"]
    save_data(data, x=x, y=y, **weights)

    def step():
        return net.loss_and_grad({"x": x}, {"y": y}, loss="cross_entropy")

    def to_result(value):
        loss, grads = value
        found = {"loss": loss}
        for i, (a, b, n) in enumerate(LAYERS):
            found[f"w{i}"] = grads[f"{a}->{b}.w"].reshape(-1, n)
            found[f"b{i}"] = grads[f"{b}.bias"]
        return found
    return step, to_result


def _weights(d):
    return [(d[f"w{i}"], d[f"b{i}"]) for i in range(len(LAYERS))]


def hand_contestant(data: str):
    """Forward and backward with preallocated buffers and out= everywhere."""
    d = load_data(data)
    x, y, weights = d["x"], d["y"], _weights(d)
    sizes = [w.shape[0] for w, _ in weights]
    acts = [np.empty((BATCH, n), np.float32) for n in sizes]
    grads = [(np.empty_like(w), np.empty_like(b)) for w, b in weights]
    deltas = [np.empty((BATCH, n), np.float32) for n in sizes]
    rows = np.arange(BATCH)

    def step():
        inputs = [x] + acts[:-1]
        for i, (w, b) in enumerate(weights):
            np.matmul(inputs[i], w.T, out=acts[i])
            acts[i] += b
            if i < len(weights) - 1:
                np.maximum(acts[i], 0.0, out=acts[i])
        logits = acts[-1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        d = deltas[-1]
        np.copyto(d, p)
        d[rows, y] -= 1.0
        d /= BATCH
        for i in reversed(range(len(weights))):
            gw, gb = grads[i]
            np.matmul(deltas[i].T, inputs[i], out=gw)
            deltas[i].sum(axis=0, out=gb)
            if i:
                np.matmul(deltas[i], weights[i][0], out=deltas[i - 1])
                deltas[i - 1] *= acts[i - 1] > 0
        return loss

    def to_result(loss):
        found = {"loss": loss}
        for i, (gw, gb) in enumerate(grads):
            found[f"w{i}"], found[f"b{i}"] = gw, gb
        return found
    return step, to_result


def torch_contestant(data: str):
    import torch
    d = load_data(data)
    model = torch_mlp(torch, _weights(d))
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])

    def step():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    def to_result(loss):
        found = {"loss": float(loss.detach())}
        for i, layer in enumerate(model[::2]):
            found[f"w{i}"], found[f"b{i}"] = layer.weight.grad.numpy(), layer.bias.grad.numpy()
        return found
    return step, to_result


CONTESTANTS = {"nndl": nndl_contestant, "hand": hand_contestant, "torch": torch_contestant}
agree = agree_all
