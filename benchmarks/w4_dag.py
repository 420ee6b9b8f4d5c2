"""W4: a layer-free DAG (w4_dag.nndl: 16 inputs, 2000 tanh neurons each listening to 10
earlier ones, 4 outputs), forward on 1000 samples. Peers: neat-python's FeedForwardNetwork
built from the same weights, a hand-written NumPy level schedule, and plain Python objects
(a neuron per object, the way one writes it without a library); NNDL's OO backend is timed
against the plain objects."""

from __future__ import annotations

import functools
import math

import numpy as np

import nndl
from benchmarks.harness import HERE, Row, check_close, interleaved

SAMPLES = 1000


def links(net):
    """Per target neuron of blob and y: [(source, weight)], sources named ('x'|'blob', index);
    and the biases."""
    q = net.parameters()
    incoming = {("blob", j): [] for j in range(2000)} | {("y", j): [] for j in range(4)}
    for name, src, dst in (("x->blob", "x", "blob"), ("blob->blob", "blob", "blob"),
                           ("blob->y", "blob", "y")):
        for i, j, w in zip(q[f"{name}.pre"], q[f"{name}.post"], q[f"{name}.w"]):
            incoming[dst, int(j)].append(((src, int(i)), float(w)))
    bias = {("blob", j): float(b) for j, b in enumerate(q["blob.bias"])}
    bias |= {("y", j): float(b) for j, b in enumerate(q["y.bias"])}
    return incoming, bias


def neat_network(incoming, bias):
    """neat-python's FeedForwardNetwork: inputs are -1..-16, outputs 0..3, blob 4.. in order
    (every link goes from a lower index to a higher, so index order is topological)."""
    import neat.nn

    def key(node):
        group, i = node
        return -1 - i if group == "x" else i if group == "y" else 4 + i

    order = [("blob", j) for j in range(2000)] + [("y", j) for j in range(4)]
    evals = [(key(n), math.tanh, sum, bias[n], 1.0, [(key(s), w) for s, w in incoming[n]])
             for n in order]
    network = neat.nn.FeedForwardNetwork(list(range(-1, -17, -1)), list(range(4)), evals)
    return lambda x: np.array([network.activate(list(map(float, row))) for row in x])


class Neuron:
    """A plain Python neuron: tanh of its bias plus the weighted outputs of its sources."""

    def __init__(self, bias, sources):
        self.bias, self.sources, self.out = bias, sources, 0.0

    def fire(self):
        self.out = math.tanh(self.bias + sum(w * s.out for s, w in self.sources))


class Source:
    def __init__(self):
        self.out = 0.0


def plain_objects(incoming, bias):
    inputs = [Source() for _ in range(16)]
    nodes = {("x", i): s for i, s in enumerate(inputs)}
    order = [("blob", j) for j in range(2000)] + [("y", j) for j in range(4)]
    for n in order:
        nodes[n] = Neuron(bias[n], [(nodes[s], w) for s, w in incoming[n]])
    neurons = [nodes[n] for n in order]
    outputs = neurons[-4:]

    def forward(x):
        result = np.empty((len(x), 4))
        for b, row in enumerate(x):
            for source, value in zip(inputs, row):
                source.out = float(value)
            for neuron in neurons:
                neuron.fire()
            result[b] = [o.out for o in outputs]
        return result
    return forward


def hand_numpy(net):
    """A level schedule written by hand: neuron-major state, each level one CSR product."""
    import scipy.sparse
    q = net.parameters()
    pre, post, w = q["blob->blob.pre"], q["blob->blob.post"], q["blob->blob.w"]
    depth = np.zeros(2000, np.int64)
    for j in range(2000):  # sources come first, so one pass in index order finds each depth
        sources = pre[post == j]
        depth[j] = depth[sources].max() + 1 if sources.size else 0
    a = scipy.sparse.csr_matrix((w, (post, pre)), shape=(2000, 2000))
    levels = [np.flatnonzero(depth == d) for d in range(depth.max() + 1)]
    blocks = [(rows, a[rows]) for rows in levels]
    wx = scipy.sparse.csr_matrix((q["x->blob.w"], (q["x->blob.post"], q["x->blob.pre"])),
                                 shape=(2000, 16))
    wy = scipy.sparse.csr_matrix((q["blob->y.w"], (q["blob->y.post"], q["blob->y.pre"])),
                                 shape=(4, 2000))
    bias, by = q["blob.bias"][:, None], q["y.bias"][:, None]

    def forward(x):
        h = np.zeros((2000, len(x)), np.float32)
        drive = wx @ x.T + bias
        for rows, block in blocks:
            h[rows] = np.tanh(drive[rows] + block @ h)
        return np.tanh(wy @ h + by).T
    return forward


def run(quick: bool) -> list[Row]:
    path = HERE / "w4_dag.nndl"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 16)).astype(np.float32)
    net = nndl.compile(path, backend="numpy").Network(seed=0)
    oo = nndl.compile(path, backend="oo").Network(seed=0)
    incoming, bias = links(net)
    peers = {"hand-written NumPy level schedule": hand_numpy(net),
             "plain Python objects": plain_objects(incoming, bias)}
    try:
        peers["neat-python FeedForwardNetwork"] = neat_network(incoming, bias)
    except ImportError:
        pass
    ours = net.run({"x": x})["y"]
    check_close("W4 NNDL OO backend vs NumPy backend", oo.run({"x": x})["y"], ours)
    for name, fn in peers.items():
        check_close(f"W4 vs {name}", ours, fn(x))
    fast = {"ours": lambda: net.run({"x": x}),
            "hand-written NumPy level schedule": lambda: peers["hand-written NumPy level "
                                                               "schedule"](x)}
    t = interleaved(fast, 5 if quick else 20)
    slow = {"ours (OO backend)": lambda: oo.run({"x": x})}
    slow |= {name: functools.partial(fn, x) for name, fn in peers.items()
             if name != "hand-written NumPy level schedule"}
    t |= interleaved(slow, 1 if quick else 3)
    name = f"W4 DAG of 2000 tanh neurons, forward, {SAMPLES} samples"
    rows = [Row(name, "neat-python FeedForwardNetwork", t["ours"],
                t["neat-python FeedForwardNetwork"], 1 / 150)] if "neat-python FeedForward" \
        "Network" in t else []
    rows += [Row(name, "hand-written NumPy level schedule", t["ours"],
                 t["hand-written NumPy level schedule"]),
             Row(name, "plain Python objects", t["ours"], t["plain Python objects"]),
             Row(f"{name}, NNDL's OO backend", "plain Python objects", t["ours (OO backend)"],
                 t["plain Python objects"], 1.0)]
    return rows
