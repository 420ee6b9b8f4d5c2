"""Local rules and rewiring while `fit` runs: when they act on the network, and what each
epoch's history says of them. The rules themselves: nndl.runtime.local_rules and
nndl.runtime.rewiring."""

from __future__ import annotations

import numpy as np

from nndl.runtime import local_rules, rewiring
from nndl.runtime.errors import TrainingError
from nndl.runtime.nonfinite import first_not_finite


class Rewirer:
    """The `rewire` statements of a regime during `fit`: every N steps, prune and grow, then
    put the new synapses in place; the optimiser's state and the local rules follow."""

    def __init__(self, net, actions: tuple, optimizer, learner):
        self.net, self.actions, self.optimizer, self.learner = net, actions, optimizer, learner
        self.pruned = self.grown = 0

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
                                      step // action.every)
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
            self.learner.rewired(synapses)

    def epoch_summary(self) -> dict:
        synapses, _ = self.net._get_parameters()
        summary = {"synapses": int(sum(syn.pre.size for syn in synapses.values())),
                   "pruned": self.pruned, "grown": self.grown}
        self.pruned = self.grown = 0
        return summary


class Learner:
    """The local rules of a regime during `fit`: their changes after each batch's run, and
    what each epoch did (the mean size of the changes; the perceptron's mistakes)."""

    def __init__(self, net, rules: tuple):
        self.net, self.rules = net, rules  # ir.LocalRule
        self.rewired(net._get_parameters()[0])
        self.change, self.mistakes, self.batches = 0.0, 0, 0

    def rewired(self, synapses: dict) -> None:
        self.wiring = {name: (syn.pre, syn.post, syn.tie) for name, syn in synapses.items()}

    def changes(self, targets: dict, where: str, outputs=None) -> dict[str, np.ndarray]:
        """Each rule's change from the last run (`outputs(group)`, (ticks, batch, size) on the
        host, where given: a run without data keeps its own; see free_running)."""
        spec = self.net.SPEC
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway is reported below
            if outputs is not None:
                result, mistakes = local_rules.changes(spec, self.rules, targets,
                                                       self.net._trainable(), self.wiring,
                                                       outputs)
            elif hasattr(self.net, "_local_changes"):  # a backend's own (on its device)
                result, mistakes = self.net._local_changes(self.rules, targets)
            else:
                result, mistakes = local_rules.changes(spec, self.rules, targets,
                                                       self.net._trainable(), self.wiring,
                                                       self._outputs)
        bad = [key for key, change in result.items() if not np.isfinite(change).all()]
        if bad:
            raise TrainingError(f"training stopped at {where}: the local rule's change of "
                                f"`{bad[0]}` is not finite; the first value that was not finite "
                                f"is {first_not_finite(self.net, backward=False)}. Try a smaller "
                                "rate, or a decay")
        self.change += float(np.mean([np.abs(c).mean() for c in result.values()]))
        self.mistakes += mistakes
        self.batches += 1
        return result

    def _outputs(self, group: str) -> np.ndarray:
        """The group's recorded output over the run, in float64 (the rules' precision here)."""
        return self.net._recorded(group, "out").astype(np.float64)

    def epoch_summary(self, samples: int) -> dict[str, float]:
        summary = {"weight_change": self.change / max(1, self.batches)}
        if any(rule.kind == "perceptron" for rule in self.rules):
            summary["mistakes"] = self.mistakes
        self.change, self.mistakes, self.batches = 0.0, 0, 0
        return summary
