"""A rate network as an ONNX model, unrolled over a fixed number of ticks (docs/interchange.md).

Each tick computes every group in NNDL's evaluation order (the IR's schedule) on (batch,
neurons) tensors: a `full` connection is a MatMul, a shared `local` one whose geometry is a
convolution a Conv with the masked kernel (nndl.interchange.weights.as_conv), any other sparse
one a Gather of each target's sources, a Mul by their weights and a ReduceSum (memory: targets
x the largest fan-in, never sources x targets). Activations are ONNX's operators; a neuron
model's statements are rendered from the expression IR, operator by operator, with its state
carried from tick to tick. Delays read the output of an earlier tick (the group's `init`
before the first). Inputs are (batch, ...) for one tick, (ticks, batch, ...) for several;
outputs are the output groups at the last tick.
"""

from __future__ import annotations

import math

import numpy as np

from nndl import ir
from nndl.ir import expr as E
from nndl.interchange import weights
from nndl.interchange.errors import ExportError, neuron_by_neuron, require

OPSET = 17
ACTIVATIONS = {"identity": "Identity", "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "softplus": "Softplus", "leaky_relu": "LeakyRelu", "softmax": "Softmax"}
ARITHMETIC = {"+": "Add", "-": "Sub", "*": "Mul", "/": "Div", "**": "Pow"}
COMPARE = {"<": "Less", "<=": "LessOrEqual", ">": "Greater", ">=": "GreaterOrEqual",
           "==": "Equal"}
FUNCTIONS = {"abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "floor": "Floor",
             "ceil": "Ceil", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
             "min": "Min", "max": "Max"}


def to_onnx(network, weights_in=None, ticks: int = 1):
    onnx = require("onnx")
    if ticks < 1:
        raise ExportError(f"ticks must be 1 or more; got {ticks}")
    spec, arrays = weights.spec_and_arrays(network, weights_in)
    model = _Builder(onnx, spec, arrays, ticks).model()
    onnx.checker.check_model(model, full_check=True)
    return model


def write(path, network, weights_in=None, ticks: int = 1):
    from nndl.runtime.files import write_atomically

    model = to_onnx(network, weights_in, ticks)
    write_atomically(path, lambda f: f.write(model.SerializeToString()))
    return model


class _Builder:
    def __init__(self, onnx, spec: ir.Network, arrays: dict, ticks: int):
        self.onnx, self.h, self.spec, self.arrays, self.ticks = onnx, onnx.helper, spec, arrays, \
            ticks
        self.nodes, self.initializers, self.count = [], [], 0
        self.consts: dict = {}
        self.weights: dict[str, tuple] = {}  # projection -> how it sums (built once)

    # ---- graph plumbing -------------------------------------------------------------------

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint: str, value, dtype=np.float32) -> str:
        array = np.asarray(value, dtype=dtype)
        key = (hint, array.dtype.str, array.shape, array.tobytes())
        if key not in self.consts:
            name = self.name(hint)
            self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
            self.consts[key] = name
        return self.consts[key]

    def op(self, kind: str, inputs: list[str], hint: str = "", **attrs) -> str:
        out = self.name(hint or kind.lower())
        self.nodes.append(self.h.make_node(kind, inputs, [out], **attrs))
        return out

    def per_sample(self, hint: str, value: np.ndarray) -> str:
        """A constant row (neurons,) repeated for every sample: (batch, neurons)."""
        row = self.const(hint, np.asarray(value, dtype=float).reshape(1, -1))
        size = self.const("size", [np.asarray(value).size], np.int64)
        return self.op("Expand", [row, self.op("Concat", [self.batch, size], axis=0)])

    def flat(self, x: str, size: int) -> str:
        return self.op("Reshape", [x, self.const("shape", [-1, size], np.int64)])

    # ---- the model ------------------------------------------------------------------------

    def model(self):
        self._refuse_what_onnx_cannot_run()
        h, spec, T = self.h, self.spec, self.ticks
        float_type = self.onnx.TensorProto.FLOAT
        graph_inputs = [h.make_tensor_value_info(
            g.name, float_type, ([T] if T > 1 else []) + ["batch", *g.shape]) for g in spec.inputs]
        outs: dict[tuple[str, int], str] = {}
        axis = int(T > 1)  # where the batch is in the inputs: (batch, ...) or (T, batch, ...)
        self.batch = self.op("Shape", [spec.inputs[0].name], "batch", start=axis, end=axis + 1) \
            if spec.inputs else self.const("one", [1], np.int64)
        states = {g.name: {var: self.per_sample(f"{g.name}_{var}_start",
                                                self.arrays[f"{g.name}.{var}"])
                           for var in spec.model(g.model).states}
                  for g in spec.groups if g.model}
        for t in range(T):
            for g in spec.inputs:
                x = self.op("Gather", [g.name, self.const("tick", t, np.int64)], axis=0) \
                    if T > 1 else g.name
                outs[g.name, t] = self.flat(x, g.size)
            for step in spec.schedule:
                for name in step.groups:
                    outs[name, t] = self._group(spec.group(name), t, outs, states)
        graph_outputs = []
        for g in spec.outputs:
            shaped = self.op("Reshape", [outs[g.name, T - 1],
                                         self.const("shape", [-1, *g.shape], np.int64)])
            self.nodes.append(h.make_node("Identity", [shaped], [g.name]))
            graph_outputs.append(h.make_tensor_value_info(g.name, float_type,
                                                          ["batch", *g.shape]))
        graph = h.make_graph(self.nodes, spec.name, graph_inputs, graph_outputs,
                             self.initializers)
        model = h.make_model(graph, producer_name="nndl", opset_imports=[
            h.make_opsetid("", OPSET)], doc_string=f"{spec.source}: network {spec.name}, "
                                                   f"{T} tick{'s' * (T != 1)}")
        model.ir_version = 8  # what onnxruntime 1.15 and later read
        return model

    def _refuse_what_onnx_cannot_run(self):
        for step in self.spec.schedule:
            if step.neuron_level:
                raise ExportError(f"{neuron_by_neuron(step.groups)}, so NNDL computes them "
                                  "neuron by neuron; ONNX computes a group at once (give the "
                                  "connection `delay 1`)")
        for model in self.spec.models:
            if model.draws and any(g.model == model.name for g in self.spec.groups):
                raise ExportError(f"neuron model `{model.name}` draws random numbers "
                                  "(rand(), randn()); NNDL's counter-based generator has no "
                                  "ONNX operator, so ONNX could not give the same numbers")

    def _group(self, g: ir.Group, t: int, outs: dict, states: dict) -> str:
        net = self._sum(g, None, t, outs)
        if g.model:
            previous = outs.get((g.name, t - 1)) or self.per_sample(
                f"{g.name}_init", np.full(g.size, g.init))
            sums = {ir.sum_variable(name): self._sum(g, name, t, outs)
                    for name in self.spec.model(g.model).sums}
            return _Statements(self, g, states[g.name]).run(net, previous, sums)
        return self._activation(g, net)

    def _sum(self, g: ir.Group, target: str | None, t: int, outs: dict) -> str:
        """The group's net input (bias and the connections without a target), or its model's
        named input sum `sum(target)`."""
        projections = self.spec.inputs_of(g.name, target)
        terms = [self._incoming(p, t, outs) for p in projections]
        if g.bias and target is None:
            terms.append(self.const(f"{g.name}_bias",
                                    weights.bias(self.spec, self.arrays, g).reshape(1, -1)))
        if not terms or not projections:
            terms.append(self.per_sample("zeros", np.zeros(g.size)))
        name = f"{g.name}_net" if target is None else f"{g.name}_sum_{target}"
        return terms[0] if len(terms) == 1 else self.op("Sum", terms, name)

    def _activation(self, g: ir.Group, net: str) -> str:
        kind = g.activation
        if kind == "step":
            return self.op("Cast", [self.op("Greater", [net, self.const("zero", 0.0)])],
                           g.name, to=self.onnx.TensorProto.FLOAT)
        if kind == "leaky_relu":
            return self.op("LeakyRelu", [net], g.name, alpha=float(g.params["slope"]))
        if kind == "softmax":
            return self.op("Softmax", [net], g.name, axis=-1)
        return self.op(ACTIVATIONS[kind], [net], g.name)

    # ---- connections ----------------------------------------------------------------------

    def _incoming(self, p: ir.Projection, t: int, outs: dict) -> str:
        src = self.spec.group(p.src)
        x = outs.get((p.src, t - p.delay)) if t - p.delay >= 0 else \
            self.per_sample(f"{src.name}_init", np.full(src.size, src.init))
        how = self.weights.get(p.name) or self._weights(p)
        if how[0] == "matmul":
            return self.op("MatMul", [x, how[1]], f"{_safe(p.name)}_sum")
        if how[0] == "conv":
            conv = how[2]
            mapped = self.op("Reshape", [x, self.const("shape", [-1, *conv.in_shape], np.int64)])
            y = self.op("Conv", [mapped, how[1]], f"{_safe(p.name)}_conv",
                        strides=list(conv.stride), pads=list(conv.padding) * 2)
            return self.flat(y, math.prod(conv.out_shape))
        _, sources, w = how
        gathered = self.op("Gather", [x, sources], axis=1)  # (batch, targets, fan-in)
        return self.op("ReduceSum", [self.op("Mul", [gathered, w]),
                                     self.const("axis", [2], np.int64)],
                       f"{_safe(p.name)}_sum", keepdims=0)

    def _weights(self, p: ir.Projection) -> tuple:
        spec, arrays, hint = self.spec, self.arrays, _safe(p.name)
        src, dst = spec.group(p.src), spec.group(p.dst)
        pre, post = np.asarray(arrays[f"{p.name}.pre"]), np.asarray(arrays[f"{p.name}.post"])
        conv = weights.as_conv(spec, arrays, p)
        if conv is not None:
            how = ("conv", self.const(f"{hint}_kernel", conv.kernel), conv)
        elif pre.size == src.size * dst.size:  # every pair: a dense matrix is no waste
            how = ("matmul", self.const(f"{hint}_w", weights.dense(spec, arrays, p).T))
        else:
            how = ("gather", *self._padded_rows(p, pre, post, hint))
        self.weights[p.name] = how
        return how

    def _padded_rows(self, p: ir.Projection, pre, post, hint) -> tuple[str, str]:
        """(sources, weights), both (targets, largest fan-in): target j sums
        w[j, k] * x[sources[j, k]]; the padding reads source 0 with weight 0."""
        n = self.spec.group(p.dst).size
        counts = np.bincount(post, minlength=n)
        width = max(int(counts.max(initial=0)), 1)
        slot = np.arange(post.size) - np.repeat(np.cumsum(counts) - counts, counts)
        sources = np.zeros((n, width), dtype=np.int64)
        w = np.zeros((n, width))
        sources[post, slot] = pre  # CSR order: each target's synapses are one run
        w[post, slot] = weights.synapse_weights(self.arrays, p)
        return self.const(f"{hint}_sources", sources, np.int64), self.const(f"{hint}_w", w)


class _Statements:
    """A neuron model's statements for one tick, rendered from the expression IR to ONNX."""

    def __init__(self, builder: _Builder, g: ir.Group, state: dict[str, str]):
        self.b, self.g, self.state = builder, g, state
        self.model = builder.spec.model(g.model)
        self.params = weights.model_values(builder.spec, builder.arrays, g)

    def run(self, net: str, previous_out: str, sums: dict[str, str]) -> str:
        env = {"net": net, "out": previous_out, **self.state, **sums}
        for target, value in self.model.statements:
            env[target] = self.render(E.from_dict(value), env)
        for var in self.model.states:
            self.state[var] = env[var]
        return env["out"]

    def render(self, e: E.Expr, env: dict) -> str:
        b, to_float = self.b, self.b.onnx.TensorProto.FLOAT
        if isinstance(e, E.Num):
            return b.const("number", float(e.value))
        if isinstance(e, E.Bool):
            return b.const("truth", e.value, np.bool_)
        if isinstance(e, E.Var):
            if e.name in env:
                return env[e.name]
            if e.name in self.params:  # a number, or one per neuron: a row, as the neurons are
                value = np.asarray(self.params[e.name], dtype=float)
                return b.const(e.name, value.item() if value.size == 1 else value.reshape(1, -1))
            raise ExportError(f"group `{self.g.name}`: model `{self.model.name}` reads "
                              f"`{e.name}`, which the ONNX export does not know")
        args = [self.render(a, env) for a in _operands(e)]
        if isinstance(e, E.Unary):
            kind = {"-": "Neg", "not": "Not"}.get(e.op)
            return b.op(kind, args) if kind else b.op("Cast", args, to=to_float)
        if isinstance(e, E.Binary):
            return self.binary(e.op, args)
        if isinstance(e, E.Call):
            return self.call(e.func, args)
        if isinstance(e, E.IfElse):
            return b.op("Where", args)
        raise ExportError(f"group `{self.g.name}`: model `{self.model.name}` draws random "
                          "numbers, which ONNX cannot give as NNDL does")

    def binary(self, op: str, args: list[str]) -> str:
        b = self.b
        if op in ARITHMETIC:
            return b.op(ARITHMETIC[op], args)
        if op == "%":  # Python's remainder (the sign of the divisor): x - floor(x / y) * y
            x, y = args
            return b.op("Sub", [x, b.op("Mul", [b.op("Floor", [b.op("Div", [x, y])]), y])])
        if op in COMPARE:
            return b.op(COMPARE[op], args)
        if op == "!=":
            return b.op("Not", [b.op("Equal", args)])
        return b.op({"and": "And", "or": "Or"}[op], args)

    def call(self, func: str, args: list[str]) -> str:
        b = self.b
        if func == "step":
            return b.op("Cast", [b.op("Greater", [args[0], b.const("zero", 0.0)])],
                        to=b.onnx.TensorProto.FLOAT)
        if func == "clip":  # min(max(x, lo), hi), as every backend computes it
            return b.op("Min", [b.op("Max", args[:2]), args[2]])
        return b.op(FUNCTIONS[func], args)


def _operands(e: E.Expr) -> list[E.Expr]:
    if isinstance(e, E.Unary):
        return [e.operand]
    if isinstance(e, E.Binary):
        return [e.left, e.right]
    if isinstance(e, E.Call):
        return list(e.args)
    if isinstance(e, E.IfElse):
        return [e.cond, e.then, e.other]
    return []


def _safe(name: str) -> str:
    return name.replace("->", "_to_")
