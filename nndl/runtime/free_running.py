"""A regime without data: a network with no inputs, driven by its own groups (`poisson` sources,
noisy models), runs and learns by its local rules alone.

Each epoch runs the regime's `ticks` ticks, continuing from where the previous epoch ended (the
first starts from the starting states; rand() counts the ticks on, so every tick draws anew), for
the regime's `batch` samples side by side (each draws its own numbers). After every tick, each
`learn` rule changes its weights from that tick's activity, the mean over the samples — what it
does after a data set's batch, with the tick as the batch's run — and the new weights act from
the next tick on. A delayed connection's rule sees its source as the synapse delivered it, d
ticks earlier. `rewire ... every N` counts ticks. A loss or a rule that reads `target` (the
perceptron) needs targets, which need data: they are refused.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from nndl import ir
from nndl.runtime import recording, resources
from nndl.runtime.errors import InputError
from nndl.runtime.plasticity import Learner, Rewirer


def check(spec: ir.Network, settings) -> None:
    """InputError unless the settings can train without data: local rules, none that reads
    `target`."""
    from_targets = [r.kind for r in settings.learn if spec.plasticity(r.kind).target]
    needs = "the loss " + settings.loss if settings.loss else \
        f"the {from_targets[0]} rule" if from_targets else None
    if needs:
        raise InputError(f"regime `{settings.name}` trains by {needs}, which compares the "
                         f"outputs with targets; network `{spec.name}` has no inputs and none "
                         "were given, so there are none: without data a regime learns by local "
                         "rules (hebb, oja) alone")
    if not settings.learn:
        raise InputError(f"regime `{settings.name}` has no local rule (`learn SRC -> DST : "
                         "oja(rate=0.01)`), and without data nothing else can train "
                         f"network `{spec.name}`")


def fit(net, settings, *, progress_bar, on_epoch=None, modulators=None) -> dict:
    """Run and learn for the settings' epochs; returns the per-epoch history (the local rules'
    mean weight change, the output groups' mean output a tick (`output_rate`: spikes a tick
    and neuron for spiking outputs), and the rewiring's synapse counts). `modulators` holds the
    functions that feed the rules' modulators from Python (nndl.runtime.modulators)."""
    spec = net.SPEC
    ticks, batch = settings.ticks or 1, settings.batch
    resources.check(spec, batch, 1, backend=net.BACKEND)
    learner = Learner(net, settings.learn, batch, modulators)  # checks `modulators` first
    rewirer = Rewirer(net, settings.rewire, _NoOptimizer(), learner, settings.epochs * ticks) \
        if settings.rewire else None
    activity = Activity(net, settings.learn, batch, learner.recorded())
    outputs = [g.name for g in spec.outputs]
    history: dict[str, list] = {}
    bar = progress_bar(settings.epochs * ticks)
    step = 0
    try:
        for epoch in range(settings.epochs):
            bar.set_description(f"epoch {epoch + 1}/{settings.epochs}")
            fired = 0.0  # the output groups' summed output over the epoch's ticks
            for t in range(ticks):
                activity.tick(reset=step == 0)
                fired += sum(float(activity.outputs(g)[-1].sum()) for g in outputs)
                where = f"epoch {epoch + 1}, tick {t + 1}"
                changes = learner.changes({}, where, activity.outputs)
                step += 1
                params = net._trainable()
                for key, change in changes.items():
                    params[key] += change.astype(params[key].dtype)
                net._trained(params)
                if rewirer:
                    rewirer.step(step)
                bar.update(1)
            summary = learner.epoch_summary(batch)
            if outputs:  # per tick, sample and neuron: for spiking outputs, spikes a tick
                size = sum(spec.group(g).size for g in outputs) * batch * ticks
                summary["output_rate"] = fired / size
            for key, value in summary.items():
                history.setdefault(key, []).append(value)
            if rewirer:
                for key, value in rewirer.epoch_summary().items():
                    history.setdefault(key, []).append(value)
            if on_epoch is not None:
                on_epoch(epoch + 1, history)
    finally:
        bar.close()
    return history


class Activity:
    """The outputs the rules read, of the last few ticks (as many as their delays need)."""

    def __init__(self, net, rules: tuple, batch: int, states=()):
        spec = net.SPEC
        projections = [next(p for p in spec.projections if p.name == rule.projection)
                       for rule in rules]
        groups = list(dict.fromkeys([*(g for p in projections for g in (p.src, p.dst)),
                                     *(g.name for g in spec.outputs)]))
        self.net, self.batch = net, batch
        self.items = recording.items(spec, [*groups, *states])  # states: `GROUP.STATE` too
        self.recent = deque(maxlen=1 + max(p.delay for p in projections))
        self.recorder = None

    def tick(self, reset: bool) -> None:
        """Run one more tick (the first from the starting states) and keep what it did."""
        if self.recorder is None:  # one recorder of one tick, refilled by every tick
            # (dense: the rules read every tick's values as arrays)
            self.recorder = self.net._recorder(self.items, 1, self.batch, spikes=False)
        self.net._run({}, 1, self.batch, False, reset, recorder=self.recorder)
        self.net._batch = self.batch  # for states() and run(..., reset=False) afterwards
        self.recent.append({key: values.reshape(1, self.batch, -1).astype(np.float64)
                            for key, values in self.recorder.result(self.net._to_host).items()})

    def outputs(self, key: str) -> np.ndarray:
        """(ticks kept, batch, size) in float64 of a group's output (or a `GROUP.STATE` that
        was asked for): what the rules read (not to be changed: a tick's values are kept for
        the ticks after it)."""
        if len(self.recent) == 1:
            return self.recent[0][key]
        return np.concatenate([tick[key] for tick in self.recent])


class _NoOptimizer:
    """Rewiring tells the optimiser where synapses moved; local rules keep no optimiser state."""

    def remap(self, key: str, source) -> None:
        pass
