"""An NNDL network as a NIR graph (docs/interchange.md has the table of what maps to what).

Each group is a node: inputs `Input`, models `LI`/`I`/`LIF`/`IF`/`CubaLI`/`CubaLIF`
(nndl.interchange.models), `identity` a `Scale` of ones, `step` a `Threshold` at 0; each output
group also feeds an `Output` node `GROUP_output`. Each connection is a weight node named after
it: `Conv1d`/`Conv2d` where a shared `local` rule is a convolution, else `Affine` (the target's
bias, carried by its first incoming connection) or `Linear`, with a `Delay` of `delay * dt`
before it. Every group's input is the sum of its incoming edges, as in NIR. Cycles (through a
delay, as NNDL requires) are NIR's cyclic edges. Anything else is refused, naming it.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from nndl import ir
from nndl.interchange import models, weights
from nndl.interchange.errors import (ExportError, InterchangeWarning, neuron_by_neuron,
                                     require)

DEFAULT_DT = 1e-4  # seconds per tick: snnTorch's import_from_nir and export_to_nir assume it
STATELESS = {"identity": "Scale", "step": "Threshold"}
SPARSE_NOTE = ("NIR has no sparse connection: {names} {are} written as dense matrices with "
               "zeros where NNDL has no synapse")


class DenseWarning(InterchangeWarning):
    """A sparse connection written as a dense matrix (NIR has no sparse one)."""


def to_nir(network, weights_in=None, dt: float | None = None):
    nir = require("nir")
    dt = DEFAULT_DT if dt is None else float(dt)
    if not dt > 0:
        raise ExportError(f"dt must be a positive number of seconds; got {dt}")
    spec, arrays = weights.spec_and_arrays(network, weights_in)
    return _Exporter(nir, spec, arrays, dt).graph()


def write(path, network, weights_in=None, dt: float | None = None):
    """Write the graph (HDF5) beside `path`, then rename it into place: a failure leaves no
    half-written file."""
    graph = to_nir(network, weights_in, dt)
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        require("nir").write(str(partial), graph)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return graph


def node_name(name: str) -> str:
    """A NIR node's key: letters, digits and `_` (simulators make module names of them)."""
    return re.sub(r"\W", "_", name.replace("->", "_to_"))


class _Exporter:
    def __init__(self, nir, spec: ir.Network, arrays: dict, dt: float):
        self.nir, self.spec, self.arrays, self.dt = nir, spec, arrays, dt
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.convs = _convolutions(spec, arrays)
        self.conv_shape = _conv_shapes(spec, self.convs)

    def graph(self):
        self._refuse_what_nir_cannot_hold()
        for group in self.spec.groups:
            self._group(group)
        dense = []
        carried: set[str] = set()  # groups whose bias an Affine already carries
        for p in self.spec.projections:
            if self._projection(p, carried) and p.rule.kind not in ("full", "one_to_one"):
                dense.append(f"`{p.name}` ({p.rule.kind})")
        for group in self.spec.groups:
            if group.role != "input" and group.name not in carried and \
                    np.any(weights.bias(self.spec, self.arrays, group)):
                raise ExportError(f"group `{group.name}` has a bias but no incoming connection "
                                  "to carry it: NIR's neurons have no bias of their own")
        if dense:
            warnings.warn(DenseWarning(SPARSE_NOTE.format(
                names=", ".join(dense), are="is" if len(dense) == 1 else "are")), stacklevel=4)
        metadata = {"nndl_network": self.spec.name, "nndl_source": self.spec.source,
                    "nndl_sha256": self.spec.sha256, "dt": self.dt}
        return self.nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=metadata)

    # ---- what NIR cannot hold -------------------------------------------------------------

    def _refuse_what_nir_cannot_hold(self):
        for p in self.spec.projections:
            if p.target is not None:
                raise ExportError(f"connection `{p.name}` feeds `sum({p.target})` of group "
                                  f"`{p.dst}`, a named input sum; a NIR node has one input, "
                                  "the sum of its edges")
        for step in self.spec.schedule:
            if step.neuron_level:
                raise ExportError(f"{neuron_by_neuron(step.groups)}, which NNDL computes "
                                  "neuron by neuron within a tick; simulators run a NIR cycle "
                                  "without a Delay one step late (give the connection "
                                  "`delay 1`)")
        for group in self.spec.groups:
            if group.init != 0.0:
                raise ExportError(f"group `{group.name}` starts with output {group.init:g} "
                                  "before the first tick; NIR's nodes start at 0")
            if group.activation and group.activation not in STATELESS:
                raise ExportError(
                    f"group `{group.name}` uses `{group.activation}`, and NIR has no such node: "
                    "NIR describes spiking and linear dynamics (LI, LIF, ...), with `step` as "
                    "Threshold and `identity` as Scale; a rate network exports to ONNX "
                    "(nndlc export FILE --to onnx)")
            if group.model:
                for var in self.spec.model(group.model).states:
                    if np.any(self.arrays.get(f"{group.name}.{var}", 0.0)):
                        raise ExportError(f"group `{group.name}`: state `{var}` starts at "
                                          "values other than 0 in the weights; NIR's start at 0")

    # ---- nodes ----------------------------------------------------------------------------

    def _shape(self, group: ir.Group) -> tuple[int, ...]:
        return self.conv_shape.get(group.name, (group.size,))

    def _group(self, group: ir.Group):
        nir, shape = self.nir, self._shape(group)
        meta = {"nndl_shape": list(group.shape), "nndl_role": group.role}
        if group.role == "input":
            node = nir.Input(input_type={"input": np.array(shape)}, metadata=meta)
        elif group.model:
            node = self._neuron(group, shape, meta)
        elif group.activation == "identity":
            node = nir.Scale(scale=np.ones(shape), metadata=meta)
        else:  # step: out = 1 where net > 0
            node = nir.Threshold(threshold=np.zeros(shape), metadata=meta)
        self._add(node_name(group.name), node)
        if group.role == "output":
            out = self._add(f"{node_name(group.name)}_output",
                            nir.Output(output_type={"output": np.array(shape)}))
            self.edges.append((node_name(group.name), out))

    def _neuron(self, group: ir.Group, shape, meta):
        model = self.spec.model(group.model)
        d = models.dynamics(model, self._one_value_each(group), f"group `{group.name}`")
        meta |= {"nndl_model": model.name}
        params = {k: np.full(shape, v, dtype=np.float64)
                  for k, v in d.to_nir_params(self.dt).items()}
        return getattr(self.nir, d.kind)(**params, metadata=meta)

    def _one_value_each(self, group: ir.Group) -> dict[str, float]:
        """The group's model parameters, one number each (held ones from the weight file, so
        trained ones as trained); a value that differs between neurons is refused."""
        values = {}
        for name, value in weights.model_values(self.spec, self.arrays, group).items():
            value = np.asarray(value, dtype=np.float64).reshape(-1)
            if np.any(value != value[0]):
                raise ExportError(f"group `{group.name}`: its parameter `{name}` differs from "
                                  "neuron to neuron, and the NIR export writes one value per "
                                  "group")
            values[name] = float(value[0])
        return values

    def _add(self, name: str, node) -> str:
        if name in self.nodes:
            raise ExportError(f"two parts of network `{self.spec.name}` are both called "
                              f"`{name}` in NIR (names keep only letters, digits and _); "
                              "rename one with `as NAME`")
        self.nodes[name] = node
        return name

    # ---- connections ----------------------------------------------------------------------

    def _projection(self, p: ir.Projection, carried: set[str]) -> bool:
        """Add the connection's nodes and edges; True where a sparse rule became dense."""
        nir, spec = self.nir, self.spec
        src, dst = spec.group(p.src), spec.group(p.dst)
        conv = self.convs.get(p.name)
        feed = self._output_of(src, flat=conv is None)
        name = node_name(p.name)
        if p.delay:
            shape = self._shape(src) if conv is not None else (src.size,)
            delay = nir.Delay(delay=np.full(shape, p.delay * self.dt),
                              metadata={"nndl_ticks": p.delay})
            feed = self._edge(feed, self._add(f"{name}_delay", delay))
        b = None
        if dst.name not in carried and dst.bias:
            carried.add(dst.name)
            b = weights.bias(spec, self.arrays, dst)
        meta = {"nndl_connection": p.name, "nndl_rule": p.rule.kind}
        if conv is not None:
            node = self._conv(conv, b, dst, meta)
        elif b is not None:
            node = nir.Affine(weight=weights.dense(spec, self.arrays, p), bias=b, metadata=meta)
        else:
            node = nir.Linear(weight=weights.dense(spec, self.arrays, p), metadata=meta)
        self._edge(self._edge(feed, self._add(name, node)), node_name(dst.name))
        return conv is None

    def _conv(self, conv: weights.Conv, b, dst: ir.Group, meta):
        maps = conv.out_shape[0]
        if b is None:
            channel_bias = np.zeros(maps)
        else:
            per_map = b.reshape(maps, -1)
            if np.any(per_map != per_map[:, :1]):
                raise ExportError(f"group `{dst.name}`'s bias differs within a feature map, "
                                  "and a NIR convolution's bias is one per map")
            channel_bias = per_map[:, 0].copy()
        cls = self.nir.Conv1d if len(conv.stride) == 1 else self.nir.Conv2d
        unwrap = (lambda t: t[0]) if len(conv.stride) == 1 else tuple
        return cls(input_shape=unwrap(conv.in_shape[1:]), weight=conv.kernel,
                   stride=unwrap(conv.stride), padding=unwrap(conv.padding),
                   dilation=unwrap((1,) * len(conv.stride)), groups=1, bias=channel_bias,
                   metadata=meta)

    def _output_of(self, group: ir.Group, flat: bool) -> str:
        """The node that gives `group`'s output in the shape wanted (flattened if it is a map)."""
        name = node_name(group.name)
        shape = self._shape(group)
        if not flat or len(shape) == 1:
            return name
        flat_name = f"{name}_flat"
        if flat_name not in self.nodes:
            self._add(flat_name, self.nir.Flatten(input_type={"input": np.array(shape)},
                                                  start_dim=0, end_dim=-1))
            self.edges.append((name, flat_name))
        return flat_name

    def _edge(self, a: str, b: str) -> str:
        self.edges.append((a, b))
        return b


def _convolutions(spec: ir.Network, arrays: dict) -> dict[str, weights.Conv]:
    """The connections written as convolutions: those whose geometry is one, where both
    groups can be feature maps (a group fed by a dense connection is a flat vector)."""
    convs = {p.name: c for p in spec.projections
             if (c := weights.as_conv(spec, arrays, p)) is not None}
    while True:
        shapes, clash = {}, set()
        for p in spec.projections:
            if p.name in convs:
                for g, shape in ((p.src, convs[p.name].in_shape), (p.dst, convs[p.name].out_shape)):
                    if shapes.setdefault(g, shape) != shape:
                        clash.add(g)
        flat = clash | {p.dst for p in spec.projections if p.name not in convs}
        dropped = {p.name for p in spec.projections
                   if p.name in convs and {p.src, p.dst} & flat}
        if not dropped:
            return convs
        convs = {k: v for k, v in convs.items() if k not in dropped}


def _conv_shapes(spec: ir.Network, convs: dict) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for p in spec.projections:
        if p.name in convs:
            shapes[p.src], shapes[p.dst] = convs[p.name].in_shape, convs[p.name].out_shape
    return shapes
