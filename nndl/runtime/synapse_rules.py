"""`rule` blocks at work: each synapse's own learning, after every tick of a regime without data.

Order within a tick (docs/language.md, "Writing a learning rule"): the neurons update first;
then, for each synapse, its `every tick` statements, then `on pre` if its source's output as
the connection delivers it (d ticks late for delay d) is nonzero this tick, then `on post` if
its target's output is; the new `w` acts from the next tick on. `pre.X` / `post.X` are the two
neurons' states after this tick's update (or their model parameters).

Each sample of the batch keeps its own rule states (its own run, its own traces); the weight is
one for all, and changes by the mean over the samples of what each sample's statements made of
it — with batch 1, exactly what the statements say. Rule states start from their starting values
when `fit` starts and are not saved in the weight file.

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
from nndl.runtime.errors import TrainingError
from nndl.runtime.layout import source_order
from nndl.runtime.modulators import Modulators
from nndl.runtime.philox import Noise, ScalarNoise, stream_key

DTYPE = np.float64  # the rules compute in float64 in every backend, as the local rules do


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
    orders: dict  # event -> (synapses sorted by that end, pointers) (see _visited)
    last: np.ndarray | None  # lazy traces: the tick each synapse's were last brought up to date


class SynapseRules:
    """The written rules of a regime without data (`learn ... : NAME(...)`), tick by tick."""

    def __init__(self, net, learns: tuple[ir.LocalRule, ...], batch: int, modulators=None):
        spec = net.SPEC
        self.net, self.batch = net, batch
        self.modulators = Modulators(spec, learns, batch, modulators)  # fit's `modulators`
        self.scalar = net.BACKEND == "oo"  # the OO module's functions take one synapse each
        self.xp = xp = net.ARRAY_MODULE  # where the values, the states and the functions work
        synapses = net._get_parameters()[0]
        self.items = []
        for learn in learns:
            rule = spec.plasticity(learn.kind)
            p = next(q for q in spec.projections if q.name == learn.projection)
            n = synapses[p.name].pre.size
            states = {v: xp.full((batch, n), start, DTYPE) for v, start in rule.states.items()}
            pre, post = synapses[p.name].pre, synapses[p.name].post
            # the wiring holds still while a rule learns (a rewired connection is refused)
            orders = {"on_pre": source_order(pre, spec.group(p.src).size),
                      "on_post": source_order(post, spec.group(p.dst).size)}
            last = xp.full((batch, n), -1.0, DTYPE) if rule.lazy else None  # before tick 0
            self.items.append(_Learning(learn, rule, p, net.RULES[rule.name], states,
                                        rule.draws, stream(net.seed, p.name), orders, last))
        self.wiring = {name: (syn.pre, syn.post) for name, syn in synapses.items()}  # host
        self.indices = {name: (xp.asarray(pre), xp.asarray(post))  # the same, with the values
                        for name, (pre, post) in self.wiring.items()}
        self.change, self.ticks = 0.0, 0

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

    def changes(self, tick: int, outputs, where: str = "") -> dict[str, np.ndarray]:
        """Each rule's weight change after this tick (`tick` counts from 0 since the start),
        from `outputs(key)`: (ticks kept, batch, size) of a group's output or `GROUP.STATE`."""
        weights = self.net._trainable()
        result = {}
        self.modulators.tick(tick, outputs)
        for item in self.items:
            w = self.xp.asarray(weights[f"{item.projection.name}.w"].astype(DTYPE))
            values = self._values(item, w, outputs)
            run = self._run_scalar if self.scalar else self._run_arrays
            with np.errstate(over="ignore", invalid="ignore"):  # a runaway is reported below
                change = self.net._to_host((run(item, tick, values) - w).mean(axis=0))
            if not np.isfinite(change).all():
                raise TrainingError(f"training stopped at {where}: rule `{item.rule.name}` made "
                                    f"a weight of `{item.projection.name}` that is not finite")
            result[f"{item.projection.name}.w"] = change
            self.change += float(np.abs(change).mean()) if change.size else 0.0
        self.ticks += 1
        return result

    def epoch_summary(self, summary: dict, built_in: int) -> dict:
        """`summary` of the built-in rules (`built_in` of them) with this epoch's written rules
        in its `weight_change`: the mean size of a rule's change per tick."""
        count = len(self.items)
        mine = self.change / max(1, self.ticks)  # the sum over this regime's written rules
        before = summary.get("weight_change", 0.0) * built_in
        self.change, self.ticks = 0.0, 0
        return {**summary, "weight_change": (before + mine) / (built_in + count)}

    def _values(self, item: _Learning, w, outputs) -> dict:
        """What the rule's functions read, per synapse: (batch, synapses) arrays of the
        network's array module, or a number; and which neurons fired (host arrays)."""
        p, spec, xp = item.projection, self.net.SPEC, self.xp
        pre, post = self.indices[p.name]
        delivered = outputs(p.src)  # the source as the connection delivers it this tick
        source = delivered[-1 - p.delay] if delivered.shape[0] > p.delay else \
            np.full(delivered.shape[1:], spec.group(p.src).init, DTYPE)
        target = outputs(p.dst)[-1]
        # every per-synapse value is (batch, synapses): one indexing serves them all
        values = {"w": xp.tile(w, (self.batch, 1)),
                  "pre": xp.asarray(source)[:, pre], "post": xp.asarray(target)[:, post],
                  "fired_pre": source != 0, "fired_post": target != 0}
        for name in item.rule.reads:
            group, var = self._side(item, name)
            index = pre if name.startswith("pre.") else post
            model = spec.model(spec.group(group).model)
            if var in model.states:
                values[name] = xp.asarray(outputs(f"{group}.{var}")[-1])[:, index]
            elif isinstance(spec.group(group).params[var], dict) or var in model.trainable:
                held = xp.asarray(self.net._get_model_params()[group][var], DTYPE)
                values[name] = xp.broadcast_to(held.reshape(-1)[index], values["w"].shape)
            else:
                values[name] = float(spec.group(group).params[var])
        # keyed apart from the names above: a modulator may be called `fired_pre`
        values.update({("modulator", name): xp.asarray(value) for name, value in
                       self.modulators.values(item.learn, self.wiring[p.name][1],
                                              outputs).items()})
        return values

    def _arguments(self, item: _Learning, values: dict) -> list:
        """In backends.render.rule_arguments' order."""
        rule = item.rule
        return [values["w"], values["pre"], values["post"], *(values[n] for n in rule.reads),
                *(item.states[v] for v in rule.states),
                *(item.learn.params[q] for q in rule.params),
                *(values["modulator", m] for m in rule.modulators)]

    def _elapsed(self, item: _Learning, where, tick: int | None):
        """The ticks since the synapses at `where` last caught up their lazy traces, which
        they do now (nndl.ir.lazy_traces); 0 for `every tick` (tick None), which reads none."""
        if tick is None:
            return 0.0
        elapsed = tick - item.last[where]
        item.last[where] = tick
        return elapsed

    # ---- the NumPy and CuPy backends: arrays of synapses ----

    def _run_arrays(self, item: _Learning, tick: int, values: dict):
        pre = self.wiring[item.projection.name][0]
        xp = self.xp
        everywhere = (slice(None), slice(None))
        if item.functions["every"]:
            noise = Noise(item.key, tick, xp.arange(pre.size), self.batch, DTYPE, xp)
            self._apply(item, values, everywhere, item.functions["every"], noise)
        for event, fired in (("on_pre", "fired_pre"), ("on_post", "fired_post")):
            if item.functions[event]:
                samples, synapses = _visited(values[fired], *item.orders[event])
                if synapses.size:
                    samples, synapses = xp.asarray(samples), xp.asarray(synapses)
                    noise = Noise.pairs(item.key, tick, synapses, samples, DTYPE, xp)
                    self._apply(item, values, (samples, synapses), item.functions[event], noise,
                                tick)
        return values["w"]

    def _apply(self, item: _Learning, values: dict, where, function, noise,
               tick: int | None = None) -> None:
        """Run one block's function on the synapses at `where` (an event's at `tick`), and keep
        what it assigns."""
        arguments = [a if isinstance(a, (int, float)) else a[where]  # a number: one for all
                     for a in self._arguments(item, values)]
        if item.last is not None:
            arguments.append(self._elapsed(item, where, tick))
        results = function(*arguments, noise) if item.draws else function(*arguments)
        values["w"][where] = results[0]
        for v, result in zip(item.rule.states, results[1:]):
            item.states[v][where] = result

    # ---- the OO backend: one synapse at a time ----

    def _run_scalar(self, item: _Learning, tick: int, values: dict) -> np.ndarray:
        n = self.wiring[item.projection.name][0].size
        visits = [("every", [(b, k) for b in range(self.batch) for k in range(n)])]
        for event, fired in (("on_pre", "fired_pre"), ("on_post", "fired_post")):
            samples, synapses = _visited(values[fired], *item.orders[event])
            visits.append((event, list(zip(samples.tolist(), synapses.tolist()))))
        arguments = self._arguments(item, values)
        for event, pairs in visits:
            function = item.functions[event]
            if function is None:
                continue
            for b, k in pairs:
                here = [float(a[b, k]) if isinstance(a, np.ndarray) else a for a in arguments]
                if item.last is not None:
                    here.append(float(self._elapsed(item, (b, k), None if event == "every"
                                                    else tick)))
                if item.draws:
                    here.append(ScalarNoise(item.key, k, tick, b, "float64"))
                results = function(*here)
                values["w"][b, k] = results[0]
                for v, result in zip(item.rule.states, results[1:]):
                    item.states[v][b, k] = result
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
