"""A NIR graph as a readable .nndl network and its weight file (docs/interchange.md).

Neuron nodes (LI, I, LIF, IF, CubaLI, CubaLIF, Threshold, Scale) and `Input` nodes become
groups; every chain `group -> [Delay, Flatten] -> weight node -> [Delay, Flatten] -> group`
becomes a connection: a `Conv1d`/`Conv2d` whose geometry NNDL's `local` rule draws as
`local(..., metric=chebyshev, shared=true)`, a diagonal matrix as `one_to_one`, any other as
`full` (NIR's matrices are dense). Affine and convolution biases, and a Threshold's level,
become the target group's bias; a Scale folds into its incoming weights. A cyclic edge
without a Delay is read as one tick late (as discrete-time simulators run it). The neuron
models written are nndl.interchange.models.MODELS, with NIR's parameters mapped for `dt`.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nndl.frontend import check_text, source_hash
from nndl.frontend.keywords import KEYWORD_ORDER
from nndl.interchange import models, nir_layers
from nndl.interchange.errors import ImportNIRError, require
from nndl.interchange.nir_export import DEFAULT_DT
from nndl.version import __version__

NEURONS = ("LI", "I", "LIF", "IF", "CubaLI", "CubaLIF")
WEIGHTS = ("Affine", "Linear", "Conv1d", "Conv2d")
PASSING = ("Delay", "Flatten", "Input", "Output")  # Input / Output inside a subgraph
RESERVED = set(KEYWORD_ORDER) | {"as", "delay", "weight", "bias", "none", "for", "if", "else",
                                 "and", "or", "not", "true", "false", "net", "out", "index"}


@dataclass
class Imported:
    """A network read from NIR: its source text and its weight file's arrays."""

    name: str
    source: str
    arrays: dict[str, np.ndarray]
    dt: float
    notes: list[str] = field(default_factory=list)  # what the reader changed, in words

    def write(self, nndl_path, weights_path=None) -> tuple[Path, Path]:
        """Write the .nndl file and its weights (default: the same name, `.npz`)."""
        from nndl.runtime import weightfile
        from nndl.runtime.files import write_text_atomically

        nndl_path = Path(nndl_path)
        weights_path = Path(weights_path) if weights_path else nndl_path.with_suffix(".npz")
        write_text_atomically(nndl_path, self.source)
        meta = {"source": str(nndl_path), "sha256": source_hash(self.source),
                "network": self.name, "nndl_version": __version__, "dtype": "float64",
                "backend": "nir", "seed": 0}
        weightfile.save(weights_path, self.arrays, meta)
        return nndl_path, weights_path


def from_nir(graph, name: str = "imported", dt: float | None = None) -> Imported:
    nir = require("nir")
    if isinstance(graph, (str, Path)):
        try:
            graph = nir.read(str(graph))
        except Exception as e:  # h5py and nir raise many kinds for a file that is no NIR
            raise ImportNIRError(f"cannot read {graph} as a NIR graph: {e}") from None
    metadata = getattr(graph, "metadata", None) or {}
    dt = float(dt if dt is not None else metadata.get("dt", DEFAULT_DT))
    name = _identifier(str(metadata.get("nndl_network", name)), set())
    nodes, edges = _inlined(nir, graph.nodes, graph.edges)
    return _Reader(nodes, edges, dt, name).read()


def _inlined(nir, nodes: dict, edges: list, prefix: str = ""):
    """Nodes and edges with every subgraph's nodes put in its place (`SUB_NODE`)."""
    flat, joined = {}, []
    ends = {}
    for key, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = _inlined(nir, node.nodes, node.edges, f"{prefix}{key}_")
            flat |= {k: ("inner", v) if type(v).__name__ in ("Input", "Output") else v
                     for k, v in inner.items()}
            joined += inner_edges
            ins = [f"{prefix}{key}_{k}" for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [f"{prefix}{key}_{k}" for k, v in node.nodes.items()
                    if isinstance(v, nir.Output)]
            ends[key] = (ins, outs)
        else:
            flat[f"{prefix}{key}"] = node
    for a, b in edges:
        a = a.split(".")[0] if a.split(".")[0] in ends else a
        b = b.split(".")[0] if b.split(".")[0] in ends else b
        for src in (ends[a][1] if a in ends else [f"{prefix}{a}"]):
            for dst in (ends[b][0] if b in ends else [f"{prefix}{b}"]):
                joined.append((src, dst))
    return flat, joined


@dataclass
class _Group:
    name: str
    key: str  # the NIR node
    shape: tuple[int, ...]
    role: str
    kind: str  # a NIR neuron kind, "step", "identity" or "input"
    params: dict[str, float]
    bias: np.ndarray
    scale: np.ndarray | None = None  # a Scale node's factors


@dataclass
class _Link:
    src: str  # group node keys
    dst: str
    weight: str | None  # the weight node's key, or None (an identity)
    delay: float  # seconds


class _Reader:
    def __init__(self, nodes: dict, edges: list, dt: float, name: str):
        self.nodes, self.dt, self.name = nodes, dt, name
        self.edges = list(dict.fromkeys(edges))  # a repeated edge is one edge
        self.into: dict[str, list[str]] = {}
        for a, b in self.edges:
            self.into.setdefault(b, []).append(a)
        self.names: set[str] = set()
        self.groups: dict[str, _Group] = {}
        self.notes: list[str] = []

    def kind(self, key: str) -> str:
        node = self.nodes[key]
        return "inner" if isinstance(node, tuple) else type(node).__name__

    # ---- groups ---------------------------------------------------------------------------

    def read(self) -> Imported:
        for key in self.nodes:
            kind = self.kind(key)
            if kind == "Input" or kind in NEURONS or kind in ("Threshold", "Scale"):
                self.groups[key] = self._group(key, kind)
            elif kind not in WEIGHTS + PASSING + ("inner",):
                raise ImportNIRError(f"NIR node `{key}` is a {kind}, which NNDL cannot read "
                                     "yet (it reads Input, Output, Affine, Linear, Conv1d, "
                                     "Conv2d, Delay, Flatten, Scale, Threshold and the LI, I, "
                                     "LIF, IF, CubaLI and CubaLIF neurons)")
        for key in self.nodes:
            if self.kind(key) == "Output":
                self._output(key)
        links = [link for key in list(self.groups) for link in self._links(key)]
        return self._write(links)

    def _group(self, key: str, kind: str) -> _Group:
        node = self.nodes[key]
        meta = getattr(node, "metadata", None) or {}
        if kind == "Input":
            shape = tuple(int(n) for n in np.asarray(next(iter(node.input_type.values()))))
        else:
            shape = np.shape(_main_array(node, kind))
        size = math.prod(shape)
        written = tuple(int(n) for n in meta.get("nndl_shape", shape))
        shape = written if math.prod(written) == size else tuple(shape)
        name = _identifier(key, self.names)
        bias = np.zeros(size)
        if kind == "Input":
            return _Group(name, key, shape, "input", "input", {}, bias)
        if kind == "Scale":
            return _Group(name, key, shape, "hidden", "identity", {}, bias,
                          np.asarray(node.scale, dtype=float).reshape(-1))
        if kind == "Threshold":
            return _Group(name, key, shape, "hidden", "step", {},
                          -np.asarray(node.threshold, dtype=float).reshape(-1))
        values = {p: _one_value(node, p, key) for p in _NIR_PARAMS[kind]}
        d = models.from_nir_params(kind, values, self.dt)
        return _Group(name, key, shape, "hidden", kind, models.model_params(d), bias)

    def _output(self, key: str):
        feeds = self.into.get(key, [])
        if len(feeds) == 1 and feeds[0] in self.groups:
            self.groups[feeds[0]].role = "output"
            return
        # an output fed by weights (or by several nodes): an identity group sums them
        size = math.prod(int(n) for n in np.asarray(
            next(iter(self.nodes[key].output_type.values()))))
        name = _identifier(key, self.names)
        self.groups[key] = _Group(name, key, (size,), "output", "identity", {}, np.zeros(size))

    # ---- connections ----------------------------------------------------------------------

    def _links(self, key: str) -> list[_Link]:
        found = []
        for pred in self.into.get(key, []):
            found += [_Link(src, key, w, delay) for src, w, delay in self._back(pred, key)]
        return found

    def _back(self, key: str, target: str) -> list[tuple[str, str | None, float]]:
        """(source group, weight node, delay) of every path that ends at `key`."""
        if key in self.groups:
            return [(key, None, 0.0)]
        kind, node = self.kind(key), self.nodes[key]
        paths = [p for pred in self.into.get(key, []) for p in self._back(pred, target)]
        if kind == "Delay":
            delays = np.unique(np.asarray(node.delay, dtype=float))
            if delays.size != 1:
                raise ImportNIRError(f"NIR node `{key}` delays its neurons by different times "
                                     "(an NNDL connection has one delay)")
            paths = [(s, w, d + float(delays[0])) for s, w, d in paths]
            if any(w is not None and self.kind(w) != "Linear" and
                   np.any(nir_layers.bias_of(self.nodes[w], self.kind(w))) for _, w, _ in paths):
                raise ImportNIRError(f"NIR node `{key}` delays a bias (an Affine before a "
                                     "Delay); NNDL's bias is never delayed")
        elif kind in WEIGHTS:
            if any(w is not None for _, w, _ in paths):
                raise ImportNIRError(f"NIR nodes feed weights straight into weights before "
                                     f"`{key}`; NNDL needs a group of neurons between them")
            paths = [(s, key, d) for s, _, d in paths]
        return paths

    def _matrix(self, link: _Link) -> np.ndarray:
        src, dst = self.groups[link.src], self.groups[link.dst]
        n_src, n_dst = math.prod(src.shape), math.prod(dst.shape)
        if link.weight is None:
            matrix = np.eye(n_dst, n_src) if n_src == n_dst else None
        else:
            matrix = nir_layers.dense(self.nodes[link.weight], self.kind(link.weight))
        if matrix is None or matrix.shape != (n_dst, n_src):
            raise ImportNIRError(f"NIR connects `{link.src}` ({n_src} neurons) to `{link.dst}` "
                                 f"({n_dst} neurons) through "
                                 f"`{link.weight or 'a direct edge'}`, which does not fit")
        return matrix if dst.scale is None else dst.scale[:, None] * matrix

    def _write(self, links: list[_Link]) -> Imported:
        delays = self._ticks(links)
        projections, arrays, biased = [], {}, set()
        for link, delay in zip(links, delays):
            dst = self.groups[link.dst]
            matrix = self._matrix(link)
            if link.weight is not None and (link.weight, link.dst) not in biased:
                biased.add((link.weight, link.dst))
                b = nir_layers.bias_of(self.nodes[link.weight], self.kind(link.weight), dst.shape)
                dst.bias = dst.bias + (b if dst.scale is None else dst.scale * b)
            name = self._projection_name(link)
            rule, comment = self._rule(link, matrix)
            projections.append((link, name, rule, delay, comment, matrix))
        text = self._source(projections)
        program, diags = check_text(text, f"<imported from NIR: {self.name}>")
        if program is None:
            raise ImportNIRError("the network read from NIR does not check as NNDL:\n"
                                 + diags.render(concise=True))
        spec = program.network(self.name)
        for link, name, _, _, _, matrix in projections:
            p = next(q for q in spec.projections if q.name == name)
            arrays |= nir_layers.synapse_arrays(spec, p, matrix)
        for g in spec.groups:
            source_group = next(x for x in self.groups.values() if x.name == g.name)
            if g.bias:
                arrays[f"{g.name}.bias"] = source_group.bias.copy()
            if g.model:
                states = spec.model(g.model).states
                arrays |= {f"{g.name}.{var}": np.zeros(g.size) for var in states}
        return Imported(self.name, text, arrays, self.dt, self.notes)

    def _ticks(self, links: list[_Link]) -> list[int]:
        """Each link's delay in ticks; a delay-free edge that closes a cycle gets 1."""
        ticks = []
        for link in links:
            n = link.delay / self.dt
            if abs(n - round(n)) > 1e-6 * max(1.0, abs(n)):
                raise ImportNIRError(f"a delay of {link.delay:g} s into `{link.dst}` is no whole "
                                     f"number of ticks of dt = {self.dt:g} s (choose --dt)")
            ticks.append(int(round(n)))
        order = {key: i for i, key in enumerate(self._evaluation_order(links, ticks))}
        for i, link in enumerate(links):
            if ticks[i] == 0 and order[link.src] >= order[link.dst]:
                ticks[i] = 1
                self.notes.append(f"the cyclic edge from `{link.src}` to `{link.dst}` has no "
                                  "Delay; it is read as one tick late, as discrete-time "
                                  "simulators run it")
        return ticks

    def _evaluation_order(self, links, ticks) -> list[str]:
        """Groups in a depth-first order of the delay-0 links from the inputs (NIR's order
        for the rest): a delay-0 link against it closes a cycle."""
        after: dict[str, list[str]] = {}
        for link, t in zip(links, ticks):
            if t == 0:
                after.setdefault(link.src, []).append(link.dst)
        seen, order = set(), []

        def visit(key):
            if key in seen:
                return
            seen.add(key)
            for nxt in after.get(key, []):
                visit(nxt)
            order.append(key)

        starts = [k for k, g in self.groups.items() if g.role == "input"] + list(self.groups)
        for key in starts:
            visit(key)
        return order[::-1]

    def _projection_name(self, link: _Link) -> str:
        meta = getattr(self.nodes[link.weight], "metadata", None) or {} if link.weight else {}
        wanted = meta.get("nndl_connection") or link.weight or \
            f"{self.groups[link.src].name}_to_{self.groups[link.dst].name}"
        if "->" in wanted:
            src, dst = self.groups[link.src].name, self.groups[link.dst].name
            if wanted == f"{src}->{dst}" and wanted not in self.names:
                self.names.add(wanted)
                return wanted
            wanted = f"{src}_to_{dst}"
        return _identifier(wanted, self.names)

    def _rule(self, link: _Link, matrix: np.ndarray) -> tuple[str, str]:
        src, dst = self.groups[link.src], self.groups[link.dst]
        if link.weight is not None and self.kind(link.weight) in ("Conv1d", "Conv2d"):
            local = nir_layers.local_rule(self.nodes[link.weight], self.kind(link.weight))
            if local and nir_layers.rule_holds(local, src.shape, dst.shape, matrix):
                return local, ""
        if matrix.shape[0] == matrix.shape[1] and not np.any(matrix - np.diag(np.diag(matrix))):
            return "one_to_one", ""
        zeros = int(matrix.size - np.count_nonzero(matrix))
        note = f"  # NIR's matrix is dense: {zeros} of its {matrix.size} weights are 0" \
            if zeros else ""
        return "full", note

    def _source(self, projections) -> str:
        kinds = [g.kind for g in self.groups.values() if g.kind in NEURONS]
        lines = [f"# Read from NIR by nndlc import: one tick is dt = {self.dt:g} s.",
                 "# The weights are in the .npz file beside this one.", ""]
        for kind in dict.fromkeys(kinds):
            lines += [models.model_source(kind, self.dt), ""]
        lines.append(f"network {self.name} {{")
        for g in sorted(self.groups.values(), key=lambda g: g.role != "input"):
            word = {"input": "input ", "output": "output"}.get(g.role, "group ")
            dims = ", ".join(str(n) for n in g.shape)
            line = f"    {word} {g.name}[{dims}]"
            if g.kind != "input":
                line += f" : {self._activation(g)}"
                if not np.any(g.bias):  # the same outputs as zeros, and it reads plainer
                    line += " bias none"
            lines.append(line)
        for link, name, rule, delay, comment, _ in projections:
            src, dst = self.groups[link.src].name, self.groups[link.dst].name
            line = f"    connect {src} -> {dst} : {rule}"
            line += f" delay {delay}" if delay else ""
            line += "" if name == f"{src}->{dst}" else f" as {name}"
            lines.append(line + comment)
        return "\n".join(lines + ["}", ""])

    def _activation(self, g: _Group) -> str:
        if g.kind in ("step", "identity"):
            return g.kind
        name = models.MODELS[g.kind][0]
        args = ", ".join(f"{k}={_number(v)}" for k, v in g.params.items())
        return f"{name}({args})"


_NIR_PARAMS = {
    "LI": ("tau", "r", "v_leak"), "I": ("r",),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "IF": ("r", "v_threshold", "v_reset"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
}


def _main_array(node, kind: str):
    """The array whose shape is the node's neurons'."""
    return getattr(node, {"Scale": "scale", "Threshold": "threshold"}.get(kind)
                   or _NIR_PARAMS[kind][-1])


def _one_value(node, param: str, key: str) -> float:
    values = np.unique(np.asarray(getattr(node, param), dtype=float))
    if values.size != 1:
        raise ImportNIRError(f"NIR node `{key}` gives its neurons different `{param}` values; "
                             "an NNDL group's model arguments are one value per group")
    return float(values[0])


def _number(v: float) -> str:
    if not math.isfinite(v):
        raise ImportNIRError(f"a parameter of NIR's neurons maps to {v}, which NNDL cannot "
                             "compute with")
    return repr(float(v))


def _identifier(key: str, taken: set[str]) -> str:
    """An NNDL name for a NIR key, not yet taken (then taken)."""
    name = re.sub(r"\W", "_", key) or "node"
    if name[0].isdigit():
        name = f"layer{name}"
    if name in RESERVED or keyword.iskeyword(name):
        name += "_"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.add(unique)
    return unique
