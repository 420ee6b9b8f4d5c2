"""Local rules and rewiring while `fit` runs: when they act on the network, and what each
epoch's history says of them. The rules themselves: nndl.runtime.synapse_rules (every rule,
the built-in hebb, oja and perceptron included, is a `rule` block) and nndl.runtime.rewiring."""

from __future__ import annotations

import numpy as np

from nndl.runtime import rewiring
from nndl.runtime.errors import TrainingError
from nndl.runtime.nonfinite import first_not_finite
from nndl.runtime.synapse_rules import SynapseRules


class Rewirer:
    """The `rewire` statements of a regime during `fit`: every N steps, prune and grow, then
    put the new synapses in place; the optimiser's state and the local rules follow."""

    def __init__(self, net, actions: tuple, optimizer, learner, steps: int | None = None):
        self.net, self.actions, self.optimizer, self.learner = net, actions, optimizer, learner
        self.pruned = self.grown = 0
        projections = {p.name: p for p in net.SPEC.projections}
        self.built = {a.projection: rewiring.built_count(net.SPEC, projections[a.projection],
                                                         net.seed)
                      for a in actions if a.prune_keep is not None}  # what `keep` counts
        if steps is not None:
            for action in actions:
                rewiring.warn_if_cut_short(action, self.built.get(action.projection), steps)

    def step(self, step: int) -> None:
        due = [a for a in self.actions if step % a.every == 0]
        if not due:
            return
        spec = self.net.SPEC
        synapses, biases = self.net._get_parameters()
        moved = {}
        for action in due:
            p = next(q for q in spec.projections if q.name == action.projection)
            outcome = rewiring.rewire(spec, p, action, synapses[p.name], self.net.seed,
                                      step // action.every, self.built.get(p.name))
            synapses[p.name] = outcome.synapses
            moved[p.name] = outcome.source_index
            self.pruned += outcome.pruned
            self.grown += outcome.grown
        # the backend rebuilds its arrays from these: keep what training made of the parameters
        self.net.model_params = self.net._get_model_params()
        self.net._install(synapses, biases)
        for name, source in moved.items():
            self.optimizer.remap(f"{name}.w", source)
        if self.learner:
            self.learner.rewired(synapses, moved)

    def epoch_summary(self) -> dict:
        synapses, _ = self.net._get_parameters()
        summary = {"synapses": int(sum(syn.pre.size for syn in synapses.values())),
                   "pruned": self.pruned, "grown": self.grown}
        self.pruned = self.grown = 0
        return summary


class Learner:
    """The local rules of a regime during `fit`: their changes after each batch's run (or each
    tick, without data), and what each epoch did (the mean size of the changes; the mistakes
    of the rules that learn from targets)."""

    def __init__(self, net, rules: tuple, batch: int, modulators=None):
        self.net = net
        self.written = SynapseRules(net, rules, batch, modulators)  # rules: ir.LocalRule
        self.reads_targets = net.SPEC.needs_targets(rules)
        self.change, self.mistakes, self.batches = 0.0, 0, 0
        self.calls = 0  # since `fit` started: the counter of the rules' random draws

    def rewired(self, synapses: dict, moved: dict) -> None:
        self.written.rewired(synapses, moved)

    def recorded(self) -> list[str]:
        """The `GROUP.STATE` recordings the rules read as `pre.X` / `post.X`."""
        return self.written.recorded()

    def changes(self, targets: dict, where: str, outputs=None) -> dict[str, np.ndarray]:
        """Each rule's change from the last run (`outputs(key)`, (ticks, batch, size) on the
        host, where given: a run without data keeps its own; see free_running)."""
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway is reported below
            result, mistakes = self.written.changes(
                self.calls, self._outputs if outputs is None else outputs, targets)
        bad = [key for key, change in result.items() if not np.isfinite(change).all()]
        if bad:
            raise TrainingError(f"training stopped at {where}: the local rule's change of "
                                f"`{bad[0]}` is not finite; the first value that was not finite "
                                f"is {first_not_finite(self.net, backward=False)}. Try a smaller "
                                "rate, or a decay")
        self.change += float(np.mean([np.abs(c).mean() if c.size else 0.0
                                      for c in result.values()]))
        self.mistakes += mistakes
        self.batches += 1
        self.calls += 1
        return result

    def _outputs(self, key: str) -> np.ndarray:
        """A group's recorded output over the run (or, for `GROUP.STATE`, the state where the
        run ended), in float64 (the rules' precision)."""
        group, _, state = key.partition(".")
        if state:
            return np.asarray(self.net._last_states()[group][state], np.float64)[None]
        return self.net._recorded(group, "out").astype(np.float64)

    def epoch_summary(self, samples: int) -> dict[str, float]:
        summary = {"weight_change": self.change / max(1, self.batches)}
        if self.reads_targets:
            summary["mistakes"] = self.mistakes
        self.change, self.mistakes, self.batches = 0.0, 0, 0
        return summary
