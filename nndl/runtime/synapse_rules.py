"""`rule` blocks at work: each synapse's own learning — after every tick of a regime without
data, and once per batch, after the batch's run, in a regime with data. The built-in hebb, oja
and perceptron are rule blocks too (nndl/frontend/builtin_rules.nndl).

Order within a tick (docs/language.md, "Writing a learning rule"): the neurons update first;
then, for each synapse, its `every tick` statements, then `on pre` if its source's output as
the connection delivers it (d ticks late for delay d) is nonzero this tick, then `on post` if
its target's output is; the new `w` acts from the next tick on. `pre.X` / `post.X` are the two
neurons' states after this tick's update (or their model parameters). In a regime with data,
"this tick" is the last tick of the batch's run (docs/language.md, "Local rules: when and how
weights change"): a delay-d connection sees its source d ticks before it, or the group's
starting output where the run was shorter.

Each sample of the batch keeps its own rule states (its own run, its own traces); the weight is
one for all, and changes by the mean over the samples of what each sample's statements made of
it — with batch 1, exactly what the statements say. A smaller last batch uses the first rows
of the states. Rule states start from their starting values when `fit` starts and are not
saved in the weight file; where rewiring moves synapses, a state moves with its synapse (a
grown one starts anew). On a shared kernel, each synapse computes with its kernel entry's `w`,
and the entry moves by the sum of its synapses' changes. `bias = ...` runs once per target
neuron (the group's bias moves by the mean over the samples, once per group however many rules
move it); `target` is the target neuron's target value (class indices: one-hot rows).

The statements are the backend's own functions (`net.RULES`, rendered from the expression IR):
the NumPy backend's take arrays of synapses — every synapse for `every tick`, only the synapses
of the neurons that fired for `on pre` (in source-major order) and `on post` (target-major) —
the CuPy backend's take the same arrays on the device (`net.ARRAY_MODULE`: the rule states
live there, and each call is one kernel), and the OO backend's take one synapse at a time,
visited in the same order. A rule's lazy traces (nndl.ir.lazy_traces) are caught up at the
events: the event functions take the ticks since each visited synapse's last event, kept here
per sample and synapse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError
from nndl.runtime.layout import source_order
from nndl.runtime.local_rules import activity, target_values
from nndl.runtime.modulators import Modulators
from nndl.runtime.philox import Noise, ScalarNoise, stream_key

DTYPE = np.float64  # the rules compute in float64 in every backend


def stream(seed: int, projection: str) -> tuple[int, int]:
    """The Philox key of a rule's draws on a projection: counters (synapse, tick, site, sample)."""
    return stream_key(seed, f"{projection}:rule")


@dataclass
class _Learning:
    """One `learn` statement that runs a `rule` block."""

    learn: ir.LocalRule
    rule: ir.PlasticityRule
    projection: ir.Projection
    functions: dict  # event -> the backend's function, or None
    states: dict  # rule state -> (batch, synapses) float64
    draws: bool  # whether the statements call rand() / randn() (they take a `noise` then)
    key: tuple[int, int]  # the Philox key of those draws
    last: object  # lazy traces: the tick each synapse's were last brought up to date, or None
    orders: dict | None = None  # event -> (synapses sorted by that end, pointers): _visited


class SynapseRules:
    """The rules of a regime (`learn ... : NAME(...)`): tick by tick without data, batch by
    batch with it."""

    def __init__(self, net, learns: tuple[ir.LocalRule, ...], batch: int, modulators=None):
        spec = net.SPEC
        self.net, self.batch = net, batch
        self.modulators = Modulators(spec, learns, batch, modulators)  # fit's `modulators`
        self.scalar = net.BACKEND == "oo"  # the OO module's functions take one synapse each
        self.xp = xp = net.ARRAY_MODULE  # where the values, the states and the functions work
        synapses = net._get_parameters()[0]
        self.items = []
        self.now = -1.0  # the tick of the last call (a grown synapse's traces start there)
        for learn in learns:
            rule = spec.plasticity(learn.kind)
            functions = getattr(net, "RULES", {}).get(rule.name)
            if functions is None:  # a module generated before the regime's rules existed
                raise InputError(f"rule `{rule.name}` is not compiled into this "
                                 f"{net.BACKEND} module; generate it again")
            p = next(q for q in spec.projections if q.name == learn.projection)
            n = synapses[p.name].pre.size
            states = {v: xp.full((batch, n), start, DTYPE) for v, start in rule.states.items()}
            last = xp.full((batch, n), -1.0, DTYPE) if rule.lazy else None  # before tick 0
            self.items.append(_Learning(learn, rule, p, functions, states, rule.draws,
                                        stream(net.seed, p.name), last))
        self.rewired(synapses)

    def rewired(self, synapses: dict, moved: dict | None = None) -> None:
        """The synapses now (after rewiring): each rule state follows its synapse (`moved`:
        by projection, each synapse's index before, -1 for a grown one, which starts anew)."""
        xp, spec = self.xp, self.net.SPEC
        self.wiring = {name: (syn.pre, syn.post, syn.tie) for name, syn in synapses.items()}
        self.indices = {name: (xp.asarray(pre), xp.asarray(post))  # with the values
                        for name, (pre, post, _) in self.wiring.items()}
        for item in self.items:
            p = item.projection
            pre, post, _ = self.wiring[p.name]
            item.orders = {"on_pre": source_order(pre, spec.group(p.src).size),
                           "on_post": source_order(post, spec.group(p.dst).size)}
            source = (moved or {}).get(p.name)
            if source is None:
                continue
            kept = xp.asarray(source >= 0)
            before = xp.asarray(np.maximum(source, 0))
            for v, start in item.rule.states.items():
                item.states[v] = xp.where(kept, item.states[v][:, before], start)
            if item.last is not None:
                item.last = xp.where(kept, item.last[:, before], self.now)

    def recorded(self) -> list[str]:
        """The `GROUP.STATE` recordings the rules read as `pre.X` / `post.X`, and the groups
        their modulators read."""
        keys = self.modulators.recorded(tuple(item.learn for item in self.items))
        for item in self.items:
            for name in item.rule.reads:
                group, var = self._side(item, name)
                if var in self.net.SPEC.model(self.net.SPEC.group(group).model).states:
                    keys.append(f"{group}.{var}")
        return list(dict.fromkeys(keys))

    def _side(self, item: _Learning, name: str) -> tuple[str, str]:
        side, _, var = name.partition(".")
        return (item.projection.src if side == "pre" else item.projection.dst), var

    def changes(self, tick: int, outputs, targets: dict | None = None) -> tuple[dict, int]:
        """Each rule's change of its weights (and of the biases `bias = ...` moves), keyed like
        the weight file, on the host, from `outputs(key)`: (ticks kept, batch, size) of a
        group's output or `GROUP.STATE`, the last tick's the one that counts; and how many
        samples a rule that reads `target` got wrong (some |target - post| > 0.5; 0 without
        one). `tick` counts the calls since `fit` started (the counter of the rules' draws)."""
        weights = self.net._trainable()
        result, mistakes = {}, 0
        self.modulators.tick(tick, outputs)
        for item in self.items:
            p, spec = item.projection, self.net.SPEC
            tie = self.wiring[p.name][2]
            w = weights[f"{p.name}.w"].astype(DTYPE)
            w_syn = self.xp.asarray(w if tie is None else w[tie])  # a kernel: each its entry
            values = self._values(item, w_syn, outputs, targets)
            run = self._run_scalar if self.scalar else self._run_arrays
            with np.errstate(over="ignore", invalid="ignore"):  # the caller reports a runaway
                change = self.net._to_host((run(item, tick, values) - w_syn).mean(axis=0))
                if tie is not None:  # a kernel entry moves by the sum over its synapses
                    change = np.bincount(tie, change, w.size)
                result[f"{p.name}.w"] = change
                bias = f"{p.dst}.bias"
                if item.functions.get("bias") and spec.group(p.dst).bias and bias not in result:
                    result[bias] = self._bias_change(item, weights[bias], values)
            if item.rule.target:
                wrong = np.abs(values["target_neurons"] - values["post_neurons"]) > 0.5
                mistakes = max(mistakes, int(wrong.any(axis=1).sum()))
        self.now = float(tick)
        return result, mistakes

    def _values(self, item: _Learning, w, outputs, targets) -> dict:
        """What the rule's functions read, per synapse: (batch, synapses) arrays of the
        network's array module, or a number; which neurons fired (host arrays); and the
        per-neuron values `bias = ...` reads (`..._neurons`, (batch, target size), host)."""
        p, spec, xp = item.projection, self.net.SPEC, self.xp
        pre, post = self.indices[p.name]
        source = activity(outputs, spec, p)  # the source as the connection delivers it
        post_out = outputs(p.dst)[-1]
        batch = post_out.shape[0]  # the last batch may be smaller: the states' first rows
        # every per-synapse value is (batch, synapses): one indexing serves them all
        values = {"w": xp.broadcast_to(w, (batch, w.size)), "w shared": True,  # copied if written
                  "pre": xp.asarray(source)[:, pre], "post": xp.asarray(post_out)[:, post],
                  "post_neurons": post_out, "fired_pre": source != 0, "fired_post": post_out != 0,
                  "states": {v: held[:batch] for v, held in item.states.items()},
                  "last": None if item.last is None else item.last[:batch]}
        neurons = np.arange(spec.group(p.dst).size)
        for name in item.rule.reads:
            values[name] = self._read(item, name, pre if name.startswith("pre.") else post,
                                      outputs, batch, xp)
            if name.startswith("post.") and item.rule.bias:  # what `bias = ...` reads
                values[f"{name}_neurons"] = self._read(item, name, neurons, outputs, batch, np)
        if item.rule.target:
            if targets is None or p.dst not in targets:
                raise InputError(f"the {item.rule.name} rule on `{p.name}` needs targets for "
                                 f"`{p.dst}`")
            values["target_neurons"] = target_values(spec, p.dst, targets[p.dst], batch)
            values["target"] = xp.asarray(values["target_neurons"])[:, post]
        # keyed apart from the names above: a modulator may be called `fired_pre`
        values.update({("modulator", name): xp.asarray(value) for name, value in
                       self.modulators.values(item.learn, p.dst, self.wiring[p.name][1],
                                              outputs).items()})
        return values

    def _read(self, item: _Learning, name: str, index, outputs, batch: int, xp):
        """`pre.X` / `post.X` of the neurons at `index`: (batch, index size), or a number."""
        spec = self.net.SPEC
        group, var = self._side(item, name)
        model = spec.model(spec.group(group).model)
        if var in model.states:
            return xp.asarray(outputs(f"{group}.{var}")[-1])[:, index]
        if isinstance(spec.group(group).params[var], dict) or var in model.trainable:
            held = xp.asarray(self.net._get_model_params()[group][var], DTYPE)
            return xp.broadcast_to(held.reshape(-1)[index], (batch, index.size))
        return float(spec.group(group).params[var])

    def _bias_change(self, item: _Learning, bias: np.ndarray, values: dict) -> np.ndarray:
        """`bias = ...` once per target neuron and sample: the mean over the samples of what
        it made of the group's bias."""
        rule = item.rule
        start = np.broadcast_to(np.asarray(bias, DTYPE).reshape(-1),
                                values["post_neurons"].shape)
        arguments = [start, values["post_neurons"],
                     *(values[f"{n}_neurons"] for n in rule.reads if n.startswith("post.")),
                     *(item.learn.params[q] for q in rule.params),
                     *([values["target_neurons"]] if rule.target else [])]
        function = item.functions["bias"]
        if not self.scalar:
            moved = self.net._to_host(function(*arguments))
        else:  # the OO module's: one neuron at a time
            moved = np.empty_like(start)
            for b, k in np.ndindex(*start.shape):
                moved[b, k] = function(*(float(a[b, k]) if isinstance(a, np.ndarray) else a
                                         for a in arguments))
        return (np.broadcast_to(moved, start.shape) - start).mean(axis=0)

    def _arguments(self, item: _Learning, values: dict) -> list:
        """In the order of backends/render.py's rule_arguments (less the ticks since the last
        event of lazy traces, which each block's caller adds)."""
        rule = item.rule
        return [values["w"], values["pre"], values["post"], *(values[n] for n in rule.reads),
                *(values["states"][v] for v in rule.states),
                *(item.learn.params[q] for q in rule.params),
                *(values["modulator", m] for m in rule.modulators),
                *([values["target"]] if rule.target else [])]

    def _elapsed(self, values: dict, where, tick: int | None):
        """The ticks since the synapses at `where` last caught up their lazy traces, which
        they do now (nndl.ir.lazy_traces); 0 for `every tick` (tick None), which reads none."""
        if tick is None:
            return 0.0
        elapsed = tick - values["last"][where]
        values["last"][where] = tick
        return elapsed

    # ---- the NumPy and CuPy backends: arrays of synapses ----

    def _run_arrays(self, item: _Learning, tick: int, values: dict):
        pre = self.wiring[item.projection.name][0]
        xp = self.xp
        if item.functions["every"]:
            noise = Noise(item.key, tick, xp.arange(pre.size), values["w"].shape[0], DTYPE, xp)
            arguments = self._arguments(item, values)
            if xp is np:
                # every synapse starts from the one weight of all the samples: the function
                # takes it as (synapses,) and broadcasts it itself (no copy per sample)
                arguments[0] = values["w"][0]
            if item.last is not None:
                arguments.append(0.0)  # `every tick` reads no ticks since the last event
            function = item.functions["every"]
            results = function(*arguments, noise) if item.draws else function(*arguments)
            values["w"] = xp.broadcast_to(results[0], values["w"].shape)
            for v, result in zip(item.rule.states, results[1:]):
                values["states"][v][...] = result
        for event, fired in (("on_pre", "fired_pre"), ("on_post", "fired_post")):
            if item.functions[event]:
                samples, synapses = _visited(values[fired], *item.orders[event])
                if synapses.size:
                    if values["w shared"]:  # a broadcast: each sample its own now
                        values["w"], values["w shared"] = values["w"].copy(), False
                    samples, synapses = xp.asarray(samples), xp.asarray(synapses)
                    noise = Noise.pairs(item.key, tick, synapses, samples, DTYPE, xp)
                    self._apply(item, values, (samples, synapses), item.functions[event], noise,
                                tick)
        return values["w"]

    def _apply(self, item: _Learning, values: dict, where, function, noise, tick: int) -> None:
        """Run an event block's function on the synapses at `where`, and keep what it
        assigns."""
        arguments = [a if isinstance(a, (int, float)) else a[where]  # a number: one for all
                     for a in self._arguments(item, values)]
        if item.last is not None:
            arguments.append(self._elapsed(values, where, tick))
        results = function(*arguments, noise) if item.draws else function(*arguments)
        values["w"][where] = results[0]
        for v, result in zip(item.rule.states, results[1:]):
            values["states"][v][where] = result

    # ---- the OO backend: one synapse at a time ----

    def _run_scalar(self, item: _Learning, tick: int, values: dict) -> np.ndarray:
        n = self.wiring[item.projection.name][0].size
        visits = [("every", [(b, k) for b in range(values["w"].shape[0]) for k in range(n)])]
        for event, fired in (("on_pre", "fired_pre"), ("on_post", "fired_post")):
            samples, synapses = _visited(values[fired], *item.orders[event])
            visits.append((event, list(zip(samples.tolist(), synapses.tolist()))))
        # Python floats in nested lists: indexed one synapse at a time, numpy's scalars cost
        # ten times as much; what a function assigns is written back (w, then the states)
        arguments = [a.tolist() if isinstance(a, np.ndarray) else a
                     for a in self._arguments(item, values)]
        per_synapse = [i for i, a in enumerate(arguments) if isinstance(a, list)]
        first_state = 3 + len(item.rule.reads)
        assigned = [0, *range(first_state, first_state + len(item.rule.states))]
        lazy = item.last is not None
        for event, pairs in visits:
            function = item.functions[event]
            if function is None:
                continue
            here = list(arguments) + ([0.0] if lazy else [])
            for b, k in pairs:
                for i in per_synapse:
                    here[i] = arguments[i][b][k]
                if lazy and event != "every":
                    here[-1] = float(self._elapsed(values, (b, k), tick))
                results = function(*here, ScalarNoise(item.key, k, tick, b, "float64")) \
                    if item.draws else function(*here)
                for i, result in zip(assigned, results):
                    arguments[i][b][k] = result
        values["w"] = np.array(arguments[0], DTYPE)
        for i, v in zip(assigned[1:], item.rule.states):
            values["states"][v][...] = arguments[i]
        return values["w"]


def _visited(fired: np.ndarray, order: np.ndarray,
             pointers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(samples, synapses): the synapses of the neurons that fired ((batch, count) truth
    values), grouped by that neuron (`order`, `pointers`: the synapses sorted by the end that
    fired, source- or target-major, as layout.source_order gives them), sample by sample."""
    samples, neurons = fired.nonzero()
    starts, stops = pointers[neurons], pointers[neurons + 1]
    lengths = stops - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # the positions starts[i], ..., stops[i] - 1 of each fired neuron, one after another
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(samples, lengths), order[np.repeat(starts, lengths) + offsets]
