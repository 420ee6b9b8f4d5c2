"""W4: a layer-free DAG (w4_dag.nndl: 16 inputs, 2000 tanh neurons each listening to 10
earlier ones, 4 outputs), forward on 1000 samples. Peers: neat-python's FeedForwardNetwork
built from the same weights, a hand-written NumPy level schedule, and plain Python objects
(a neuron per object, the way one writes it without a library). NNDL's NumPy backend and its
OO backend are each measured against neat-python."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.harness import HERE, Case, Contestant, Goal, check_close, load_data, save_data

SAMPLES, NEURONS = 1000, 2000
PROJECTIONS = (("x->blob", "x", "blob"), ("blob->blob", "blob", "blob"), ("blob->y", "blob", "y"))


def cases(quick: bool) -> list[Case]:
    contestants = [Contestant("nndl", "NNDL numpy backend", calls=10),
                   Contestant("oo", "NNDL OO backend"),
                   Contestant("neat", "neat-python FeedForwardNetwork", needs="neat"),
                   Contestant("levels", "hand-written NumPy level schedule", calls=10),
                   Contestant("objects", "plain Python objects")]
    goals = [Goal("nndl", ("neat",), 1 / 200), Goal("oo", ("neat",), 1.0)]
    return [Case(f"W4 DAG of {NEURONS} tanh neurons, forward, {SAMPLES} samples", "w4_dag",
                 contestants, goals, rounds=1 if quick else 3)]


def _nndl(backend: str):
    def build(data: str):
        import nndl
        net = nndl.compile(HERE / "w4_dag.nndl", backend=backend).Network(seed=0)
        x = np.random.default_rng(0).normal(size=(SAMPLES, 16)).astype(np.float32)
        if backend == "numpy":  # the OO network has the same weights (same source and seed)
            q = net.parameters()
            arrays = {f"{name}.{part}": q[f"{name}.{part}"] for name, _, _ in PROJECTIONS
                      for part in ("pre", "post", "w")}
            save_data(data, x=x, **arrays, **{"blob.bias": q["blob.bias"], "y.bias": q["y.bias"]})
        return lambda: net.run({"x": x})["y"], lambda y: {"y": y}
    return build


def links(q):
    """Per target neuron of blob and y: [(source, weight)], sources named ('x'|'blob', index);
    and the biases."""
    incoming = {("blob", j): [] for j in range(NEURONS)} | {("y", j): [] for j in range(4)}
    for name, src, dst in PROJECTIONS:
        for i, j, w in zip(q[f"{name}.pre"], q[f"{name}.post"], q[f"{name}.w"]):
            incoming[dst, int(j)].append(((src, int(i)), float(w)))
    bias = {("blob", j): float(b) for j, b in enumerate(q["blob.bias"])}
    bias |= {("y", j): float(b) for j, b in enumerate(q["y.bias"])}
    return incoming, bias


ORDER = [("blob", j) for j in range(NEURONS)] + [("y", j) for j in range(4)]


def neat_contestant(data: str):
    """neat-python's FeedForwardNetwork: inputs are -1..-16, outputs 0..3, blob 4.. in order
    (every link goes from a lower index to a higher, so index order is topological)."""
    import neat.nn
    q = load_data(data)
    incoming, bias = links(q)

    def key(node):
        group, i = node
        return -1 - i if group == "x" else i if group == "y" else 4 + i

    evals = [(key(n), math.tanh, sum, bias[n], 1.0, [(key(s), w) for s, w in incoming[n]])
             for n in ORDER]
    network = neat.nn.FeedForwardNetwork(list(range(-1, -17, -1)), list(range(4)), evals)
    rows = [list(map(float, row)) for row in q["x"]]
    return lambda: np.array([network.activate(row) for row in rows]), lambda y: {"y": y}


class Neuron:
    """A plain Python neuron: tanh of its bias plus the weighted outputs of its sources."""

    def __init__(self, bias, sources):
        self.bias, self.sources, self.out = bias, sources, 0.0

    def fire(self):
        self.out = math.tanh(self.bias + sum(w * s.out for s, w in self.sources))


class Source:
    def __init__(self):
        self.out = 0.0


def objects_contestant(data: str):
    q = load_data(data)
    incoming, bias = links(q)
    inputs = [Source() for _ in range(16)]
    nodes = {("x", i): s for i, s in enumerate(inputs)}
    for n in ORDER:
        nodes[n] = Neuron(bias[n], [(nodes[s], w) for s, w in incoming[n]])
    neurons = [nodes[n] for n in ORDER]
    outputs = neurons[-4:]
    samples = [list(map(float, row)) for row in q["x"]]

    def forward():
        result = np.empty((len(samples), 4))
        for b, row in enumerate(samples):
            for source, value in zip(inputs, row):
                source.out = value
            for neuron in neurons:
                neuron.fire()
            result[b] = [o.out for o in outputs]
        return result
    return forward, lambda y: {"y": y}


def levels_contestant(data: str):
    """A level schedule written by hand: neuron-major state, each level one CSR product."""
    import scipy.sparse
    q = load_data(data)
    pre, post, w = q["blob->blob.pre"], q["blob->blob.post"], q["blob->blob.w"]
    depth = np.zeros(NEURONS, np.int64)
    for j in range(NEURONS):  # sources come first, so one pass in index order finds each depth
        sources = pre[post == j]
        depth[j] = depth[sources].max() + 1 if sources.size else 0
    a = scipy.sparse.csr_matrix((w, (post, pre)), shape=(NEURONS, NEURONS))
    blocks = [(rows, a[rows]) for rows in (np.flatnonzero(depth == d)
                                          for d in range(depth.max() + 1))]

    def matrix(name, shape):
        return scipy.sparse.csr_matrix((q[f"{name}.w"], (q[f"{name}.post"], q[f"{name}.pre"])),
                                       shape=shape)
    wx, wy = matrix("x->blob", (NEURONS, 16)), matrix("blob->y", (4, NEURONS))
    bias, by, x = q["blob.bias"][:, None], q["y.bias"][:, None], q["x"]

    def forward():
        h = np.zeros((NEURONS, len(x)), np.float32)
        drive = wx @ x.T + bias
        for rows, block in blocks:
            h[rows] = np.tanh(drive[rows] + block @ h)
        return np.tanh(wy @ h + by).T
    return forward, lambda y: {"y": y}


CONTESTANTS = {"nndl": _nndl("numpy"), "oo": _nndl("oo"), "neat": neat_contestant,
               "objects": objects_contestant, "levels": levels_contestant}


def agree(ours: dict, peer: dict, what: str) -> None:
    check_close(f"{what}: outputs", ours["y"], peer["y"])
