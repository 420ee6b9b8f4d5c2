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
and the OO backend's take one synapse at a time, visited in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nndl import ir
from nndl.runtime.errors import InputError
from nndl.runtime.layout import source_order
from nndl.runtime.local_rules import activity, target_values
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


class SynapseRules:
    """The rules of a regime (`learn ... : NAME(...)`): tick by tick without data, batch by
    batch with it."""

    def __init__(self, net, learns: tuple[ir.LocalRule, ...], batch: int):
        spec = net.SPEC
        self.net, self.batch = net, batch
        self.scalar = net.BACKEND == "oo"  # the OO module's functions take one synapse each
        synapses = net._get_parameters()[0]
        self.items = []
        for learn in learns:
            rule = spec.plasticity(learn.kind)
            if rule.name not in getattr(net, "RULES", {}):
                raise InputError(f"rule `{rule.name}` is not compiled for the {net.BACKEND} "
                                 "backend yet; train with the oo or numpy backend")
            p = next(q for q in spec.projections if q.name == learn.projection)
            n = synapses[p.name].pre.size
            states = {v: np.full((batch, n), start, DTYPE) for v, start in rule.states.items()}
            self.items.append(_Learning(learn, rule, p, net.RULES[rule.name], states))
        self.rewired(synapses)

    def rewired(self, synapses: dict, moved: dict | None = None) -> None:
        """The synapses now (after rewiring): each rule state follows its synapse (`moved`:
        by projection, each synapse's index before, -1 for a grown one, which starts anew)."""
        self.wiring = {name: (syn.pre, syn.post, syn.tie) for name, syn in synapses.items()}
        for item in self.items:
            source = (moved or {}).get(item.projection.name)
            if source is None:
                continue
            kept = source >= 0
            for v, start in item.rule.states.items():
                old = item.states[v]
                item.states[v] = np.full((old.shape[0], source.size), start, DTYPE)
                item.states[v][:, kept] = old[:, source[kept]]

    def recorded(self) -> list[str]:
        """The `GROUP.STATE` recordings the rules read as `pre.X` / `post.X`."""
        keys = []
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
        the weight file, from `outputs(key)`: (ticks kept, batch, size) of a group's output or
        `GROUP.STATE`, the last tick's the one that counts; and how many samples a rule that
        reads `target` got wrong (some |target - post| > 0.5; 0 without one). `tick` counts
        the calls since `fit` started (the counter of the rules' draws)."""
        weights = self.net._trainable()
        result, mistakes = {}, 0
        for item in self.items:
            p, spec = item.projection, self.net.SPEC
            tie = self.wiring[p.name][2]
            w = weights[f"{p.name}.w"].astype(DTYPE)
            w_syn = w if tie is None else w[tie]  # a shared kernel: each synapse's entry
            values = self._values(item, w_syn, outputs, targets)
            run = self._run_scalar if self.scalar else self._run_arrays
            with np.errstate(over="ignore", invalid="ignore"):  # the caller reports a runaway
                change = (run(item, tick, values) - w_syn).mean(axis=0)
                if tie is not None:  # a kernel entry moves by the sum over its synapses
                    change = np.bincount(tie, change, w.size)
                result[f"{p.name}.w"] = change
                bias = f"{p.dst}.bias"
                if item.functions.get("bias") and spec.group(p.dst).bias and bias not in result:
                    result[bias] = self._bias_change(item, weights[bias], values)
            if item.rule.target:
                wrong = np.abs(values["target_neurons"] - values["post_neurons"]) > 0.5
                mistakes = max(mistakes, int(wrong.any(axis=1).sum()))
        return result, mistakes

    def _values(self, item: _Learning, w: np.ndarray, outputs, targets) -> dict:
        """What the rule's functions read, per synapse: (batch, synapses) arrays, or a number;
        and the per-neuron values `bias = ...` reads (`..._neurons`, (batch, target size))."""
        p, spec = item.projection, self.net.SPEC
        pre, post, _ = self.wiring[p.name]
        source = activity(outputs, spec, p)  # the source as the connection delivers it
        post_out = outputs(p.dst)[-1]
        batch = post_out.shape[0]  # the last batch may be smaller: the states' first rows
        # every per-synapse value is (batch, synapses): one indexing serves them all
        values = {"w": np.broadcast_to(w, (batch, w.size)),  # read only: copied where written
                  "pre": source[:, pre], "post": post_out[:, post], "post_neurons": post_out,
                  "fired_pre": source != 0, "fired_post": post_out != 0,
                  "states": {v: held[:batch] for v, held in item.states.items()}}
        neurons = np.arange(spec.group(p.dst).size)
        for name in item.rule.reads:
            values[name] = self._read(item, name, pre if name.startswith("pre.") else post,
                                      outputs, batch)
            if name.startswith("post."):
                values[f"{name}_neurons"] = self._read(item, name, neurons, outputs, batch)
        if item.rule.target:
            if targets is None or p.dst not in targets:
                raise InputError(f"the {item.rule.name} rule on `{p.name}` needs targets for "
                                 f"`{p.dst}`")
            values["target_neurons"] = target_values(spec, p.dst, targets[p.dst], batch)
            values["target"] = values["target_neurons"][:, post]
        return values

    def _read(self, item: _Learning, name: str, index: np.ndarray, outputs, batch: int):
        """`pre.X` / `post.X` of the neurons at `index`: (batch, index size), or a number."""
        spec = self.net.SPEC
        group, var = self._side(item, name)
        model = spec.model(spec.group(group).model)
        if var in model.states:
            return outputs(f"{group}.{var}")[-1][:, index]
        if isinstance(spec.group(group).params[var], dict) or var in model.trainable:
            held = np.asarray(self.net._get_model_params()[group][var], DTYPE)
            return np.broadcast_to(held.reshape(-1)[index], (batch, index.size))
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
            moved = function(*arguments)
        else:  # the OO module's: one neuron at a time
            moved = np.empty_like(start)
            for b, k in np.ndindex(*start.shape):
                moved[b, k] = function(*(float(a[b, k]) if isinstance(a, np.ndarray) else a
                                         for a in arguments))
        return (np.broadcast_to(moved, start.shape) - start).mean(axis=0)

    def _arguments(self, item: _Learning, values: dict) -> list:
        """In the order of backends/render.py's rule_arguments."""
        rule = item.rule
        return [values["w"], values["pre"], values["post"], *(values[n] for n in rule.reads),
                *(values["states"][v] for v in rule.states),
                *(item.learn.params[q] for q in rule.params),
                *([values["target"]] if rule.target else [])]

    # ---- the NumPy backend: arrays of synapses ----

    def _run_arrays(self, item: _Learning, tick: int, values: dict) -> np.ndarray:
        pre, post, _ = self.wiring[item.projection.name]
        n_src = self.net.SPEC.group(item.projection.src).size
        n_dst = self.net.SPEC.group(item.projection.dst).size
        key = stream(self.net.seed, item.projection.name)
        if item.functions["every"]:
            # every synapse starts from the one weight of all the samples: the function takes
            # it as (synapses,) and broadcasts it itself (no copy per sample, nor its work)
            noise = Noise(key, tick, np.arange(pre.size), values["w"].shape[0], DTYPE)
            arguments = self._arguments(item, values)
            arguments[0] = values["w"][0]
            function = item.functions["every"]
            results = function(*arguments, noise) if item.rule.draws else function(*arguments)
            values["w"] = np.broadcast_to(results[0], values["w"].shape)
            for v, result in zip(item.rule.states, results[1:]):
                values["states"][v][...] = result
        for event, ends, fired, count in (("on_pre", pre, "fired_pre", n_src),
                                          ("on_post", post, "fired_post", n_dst)):
            if item.functions[event]:
                samples, synapses = _visited(values[fired], ends, count)
                if synapses.size:
                    if not values["w"].flags.writeable:  # a broadcast: each sample its own now
                        values["w"] = values["w"].copy()
                    noise = Noise.pairs(key, tick, synapses, samples, DTYPE)
                    self._apply(item, values, (samples, synapses), item.functions[event], noise)
        return values["w"]

    def _apply(self, item: _Learning, values: dict, where, function, noise) -> None:
        """Run one block's function on the synapses at `where`, and keep what it assigns."""
        arguments = [a[where] if isinstance(a, np.ndarray) else a
                     for a in self._arguments(item, values)]
        results = function(*arguments, noise) if item.rule.draws else function(*arguments)
        values["w"][where] = results[0]
        for v, result in zip(item.rule.states, results[1:]):
            values["states"][v][where] = result

    # ---- the OO backend: one synapse at a time ----

    def _run_scalar(self, item: _Learning, tick: int, values: dict) -> np.ndarray:
        pre, post, _ = self.wiring[item.projection.name]
        key = stream(self.net.seed, item.projection.name)
        n_src = self.net.SPEC.group(item.projection.src).size
        n_dst = self.net.SPEC.group(item.projection.dst).size
        visits = [("every", [(b, k) for b in range(values["w"].shape[0])
                             for k in range(pre.size)])]
        for event, ends, fired, count in (("on_pre", pre, "fired_pre", n_src),
                                          ("on_post", post, "fired_post", n_dst)):
            samples, synapses = _visited(values[fired], ends, count)
            visits.append((event, list(zip(samples.tolist(), synapses.tolist()))))
        # Python floats in nested lists: indexed one synapse at a time, numpy's scalars cost
        # ten times as much; what a function assigns is written back (w, then the states)
        arguments = [a.tolist() if isinstance(a, np.ndarray) else a
                     for a in self._arguments(item, values)]
        per_synapse = [i for i, a in enumerate(arguments) if isinstance(a, list)]
        first_state = 3 + len(item.rule.reads)
        assigned = [0, *range(first_state, first_state + len(item.rule.states))]
        draws = item.rule.draws
        for event, pairs in visits:
            function = item.functions[event]
            if function is None:
                continue
            here = list(arguments)
            for b, k in pairs:
                for i in per_synapse:
                    here[i] = arguments[i][b][k]
                results = function(*here, ScalarNoise(key, k, tick, b, "float64")) if draws \
                    else function(*here)
                for i, result in zip(assigned, results):
                    arguments[i][b][k] = result
        values["w"] = np.array(arguments[0], DTYPE)
        for i, v in zip(assigned[1:], item.rule.states):
            values["states"][v][...] = arguments[i]
        return values["w"]


def _visited(fired: np.ndarray, ends: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples, synapses): the synapses of the neurons that fired ((batch, count) truth
    values), grouped by that neuron (in the order `ends` sorts them: source- or target-major),
    sample by sample."""
    order, pointers = source_order(ends, count)
    samples, neurons = fired.nonzero()
    starts, stops = pointers[neurons], pointers[neurons + 1]
    lengths = stops - starts
    if not lengths.sum():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # the positions starts[i], ..., stops[i] - 1 of each fired neuron, one after another
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(samples, lengths), order[np.repeat(starts, lengths) + offsets]
