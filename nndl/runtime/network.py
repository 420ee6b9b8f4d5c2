"""What every generated `Network` class shares: construction, `run`, `save` and `load`.

A backend's generated subclass sets `SPEC` (the IR it was compiled from) and implements three
hooks: `_set_parameters`, `_get_parameters` and `_run`. Checking inputs and files lives here, once,
and so does the neuron-level schedule (`self.levels`), recomputed whenever synapses change.
"""

from __future__ import annotations

import warnings

import numpy as np

from nndl import ir
from nndl.runtime import (free_running, philox, recording, resources, rewiring, training,
                          weightfile)
from nndl.runtime.build import build_all, initial_biases, initial_values, neuron_levels, report
from nndl.runtime.errors import InputError, WeightFileError
from nndl.runtime.inputs import by_name, prepare_inputs
from nndl.runtime.schedule import CycleError
from nndl.runtime.synapses import Synapses, connect
from nndl.runtime.targets import check_targets, loss_and_seeds

DTYPES = ("float32", "float64")
# Rules whose synapses never depend on the seed: a weight file must hold exactly these.
FIXED_RULES = ("full", "one_to_one", "local", "where")


class NetworkBase:
    SPEC: ir.Network
    BACKEND = ""
    DEFAULT_DTYPE = "float32"
    NNDL_VERSION = ""
    RULES: dict = {}  # a `rule` block's functions by event (nndl.backends.render.rule_table)
    ARRAY_MODULE = np  # what the network's arrays are: NumPy's, or CuPy's on the device

    def __init__(self, seed: int | None = None, dtype: str | None = None):
        spec = self.SPEC
        self.seed = spec.seed if seed is None else _check_seed(seed)
        self.dtype = _check_dtype(self.DEFAULT_DTYPE if dtype is None else dtype)
        resources.check(spec, backend=self.BACKEND)  # refuse, in microseconds, what won't fit
        synapses, findings = build_all(spec, self.seed)
        report(spec, findings)
        # each model neuron's state before the first tick (saved as GROUP.STATE), and the
        # parameters a group holds per neuron or trains (GROUP.PARAM)
        self.model_params, self.start_states = initial_values(spec, self.seed)
        self._install(synapses, initial_biases(spec))

    def _install(self, synapses: dict[str, Synapses], biases: dict[str, np.ndarray]):
        self.levels = neuron_levels(self.SPEC, synapses)  # may raise CycleError
        self._set_parameters(synapses, biases)

    # ---- the hooks a backend implements ----

    def _set_parameters(self, synapses: dict[str, Synapses], biases: dict[str, np.ndarray]):
        raise NotImplementedError

    def _get_parameters(self) -> tuple[dict[str, Synapses], dict[str, np.ndarray]]:
        raise NotImplementedError

    def _get_model_params(self) -> dict[str, dict[str, np.ndarray]]:
        """{group: {param: array}}: the parameters held as arrays, as they are now (a backend
        that trains them in arrays of its own returns those)."""
        return self.model_params

    def _run(self, inputs: dict[str, np.ndarray], ticks: int, batch: int,
             every_tick: bool, reset: bool,
             recorder: recording.Recorder | None = None) -> dict[str, np.ndarray]:
        """Outputs as (ticks, batch, size), or (batch, size) for the last tick only; fills
        `recorder` (when given) at every tick."""
        raise NotImplementedError

    def _recorder(self, chosen: tuple, ticks: int, batch: int,
                  spikes: bool = True) -> recording.Recorder:
        """Where a run records what it is asked to: host arrays (the CuPy backend's are on the
        device; the NumPy backend's spiking groups, with `spikes`, their spikes' indices)."""
        return recording.Recorder(chosen, ticks, batch, self.dtype)

    def _to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    # ---- random numbers of neuron models (nndl.runtime.philox) ----

    def _noise_key(self, group: str) -> tuple[int, int]:
        """The Philox key of a group's rand() and randn(): the seed and the group's name."""
        return philox.stream_key(self.seed, group)

    def _noise(self, group: str, tick: int, batch: int, neurons=None, xp=np) -> philox.Noise:
        """The draws of one tick of a group's neurons (all, or the flat indices `neurons`)."""
        if neurons is None:
            neurons = xp.arange(self.SPEC.group(group).size)
        return philox.Noise(self._noise_key(group), tick, neurons, batch, self.dtype, xp)

    # ---- the API ----

    def run(self, inputs: dict | None = None, /, *, ticks: int | None = None,
            every_tick: bool = False, reset: bool = True, record=(), batch: int | None = None,
            **named_inputs) -> recording.Run:
        """Run the network; returns every output group at the last tick, or at every tick.

        Each run starts from the groups' `init` outputs and the models' starting states;
        `reset=False` continues from where the previous run (of the same batch size) ended.
        `record=["exc", "exc.v"]` also keeps every tick of those groups' outputs and model
        states: the result (a dict of the outputs, as without it) holds them in `.recorded`,
        each (ticks, batch, *shape), and the spikes of 0/1 outputs in `.spikes`. `batch`
        sets how many samples a network without inputs runs (1 by default; with inputs, they
        set it).
        """
        given = by_name(self.SPEC.inputs, inputs, "run")
        for name in named_inputs:
            if name in given:
                raise InputError(f"input `{name}` is given twice")
        given.update(named_inputs)
        chosen = recording.items(self.SPEC, record)  # unknown names: refused before the run
        prepared, steps, batch = prepare_inputs(self.SPEC, given, ticks, np.dtype(self.dtype),
                                                batch)
        resources.check(self.SPEC, batch, steps, backend=self.BACKEND,
                        recorded=recording.sizes(chosen, steps, batch, self.dtype))
        if not reset and getattr(self, "_batch", batch) != batch:
            raise InputError(f"reset=False continues the previous run, which had a batch of "
                             f"{self._batch}; this one has {batch}")
        reset = reset or not hasattr(self, "_batch")
        self._batch = batch
        recorder = self._recorder(chosen, steps, batch) if chosen else None
        flat = self._run(prepared, steps, batch, every_tick, reset, recorder=recorder)
        outputs = {g.name: np.asarray(flat[g.name]).reshape(flat[g.name].shape[:-1] + g.shape)
                   for g in self.SPEC.outputs}
        return recording.Run(outputs, recorder.result(self._to_host) if recorder else None)

    def loss_and_grad(self, inputs: dict, targets: dict, /, *, loss: str | None = None,
                      every_tick: bool | None = None, ticks: int | None = None,
                      regime: str | None = None, backward: bool = True,
                      batch: int | None = None):
        """The loss of a run on `inputs` against `targets` ({output group: array}), and its
        exact gradient for every weight and bias, keyed like the weight file (`NAME.w`,
        `GROUP.bias`), by backpropagation through the ticks.

        The loss and `every_tick` come from the arguments, else the regime (the network's first
        when none is named), else cross-entropy on softmax outputs and mse otherwise. Targets
        are (batch, *shape) or class indices (batch,), with a leading ticks axis for a loss on
        every tick. `backward=False` computes the loss alone (and returns no gradients).
        `batch` is the batch of a network without inputs, as in `run`.
        """
        spec = self.SPEC
        chosen = training.regime_of(spec, regime)
        targets = check_targets(spec, by_name(spec.outputs, targets, "loss_and_grad", "targets"))
        if loss is None:
            loss = chosen.loss if chosen and chosen.loss else training.default_loss(spec, targets)
        if every_tick is None:
            every_tick = bool(chosen and chosen.every_tick)
        training.check_loss(loss)
        inputs = by_name(spec.inputs, inputs, "loss_and_grad")
        prepared, steps, batch = prepare_inputs(spec, inputs, ticks, np.dtype(self.dtype),
                                                batch)
        resources.check(spec, batch, steps, training=True, backend=self.BACKEND)
        self._forward_for_grad(prepared, steps, batch)
        total, seeds_out, seeds_net = loss_and_seeds(self, targets, loss, every_tick, batch)
        if not backward:
            return total, None
        return total, self._backward(seeds_out, seeds_net)

    def fit(self, inputs: dict | None = None, targets: dict | None = None, /, *,
            regime: str | None = None,
            epochs: int | None = None, batch: int | None = None, ticks: int | None = None,
            loss: str | None = None, optimizer: tuple[str, dict] | None = None,
            schedule: str | tuple[str, dict] | None = None,
            validation: tuple[dict, dict] | None = None, checkpoint=None,
            resume: bool = False, progress: bool = True,
            on_epoch=None, modulators: dict | None = None) -> dict[str, list[float]]:
        """Train with a regime's settings (the network's first when none is named), each
        overridable here (`schedule="cosine"` or `("cosine", {"final_lr": 1e-4})` anneals the
        learning rate, as the regime's `schedule`). Shuffles with the network's seed, shows a progress bar, and returns
        the per-epoch history: `loss`, plus `test_loss` and `test_accuracy` when `validation`
        = (inputs, targets) is given. `checkpoint=PATH` saves one after every epoch;
        `resume=True` continues from it when it exists. `on_epoch(epoch, history)` is called
        after each epoch. Stops with a TrainingError naming the group and tick where a NaN or
        infinity appeared.

        A network without inputs, given no data (`fit()`), runs on its own for `ticks` ticks
        per epoch and learns by its regime's local rules after every tick (see
        nndl.runtime.free_running); `modulators={"reward": f}` feeds the rules' modulators
        that the regime's `learn` statements feed from Python (`reward=external`): `f(tick,
        outputs)` is called each tick with this tick's outputs and returns the value (see
        nndl.runtime.modulators)."""
        inputs = {name: np.asarray(x)
                  for name, x in by_name(self.SPEC.inputs, inputs, "fit").items()}
        targets = by_name(self.SPEC.outputs, targets, "fit", "targets")
        settings = training.settings(self.SPEC, regime, epochs=epochs, batch=batch, ticks=ticks,
                                     loss=loss, optimizer=optimizer, targets=targets,
                                     schedule=schedule)
        if not self.SPEC.inputs and not inputs and not targets:  # a regime without data
            return self._fit_without_data(settings, validation, checkpoint, progress, on_epoch,
                                          modulators)
        if modulators:
            raise InputError("fit(modulators=...) feeds the rules of a regime without data; "
                             "with data, written rules do not run yet")
        if self.SPEC.inputs and not inputs:
            names = ", ".join(f"`{g.name}`" for g in self.SPEC.inputs)
            raise InputError(f"fit() needs data for the inputs of network `{self.SPEC.name}` "
                             f"({names}); only a network without inputs runs on its own")
        needed = settings.loss is not None or self.SPEC.needs_targets(settings.learn)
        targets = check_targets(self.SPEC, targets, needed)
        return training.fit(self, inputs, targets, settings, validation=validation,
                            checkpoint=checkpoint, resume=resume, progress=progress,
                            on_epoch=on_epoch)

    def _fit_without_data(self, settings, validation, checkpoint, progress, on_epoch,
                          modulators=None):
        free_running.check(self.SPEC, settings)
        for given, what in ((validation, "validation"), (checkpoint, "checkpoint")):
            if given is not None:
                raise InputError(f"a regime without data takes no {what}: the network runs "
                                 "on its own, and its activity is not saved between epochs")
        return free_running.fit(self, settings, on_epoch=on_epoch, modulators=modulators,
                                progress_bar=lambda total: training.progress_bar(total, progress))

    def evaluate(self, inputs: dict, targets: dict, /, *, loss: str | None = None,
                 ticks: int | None = None, every_tick: bool | None = None,
                 regime: str | None = None) -> dict[str, float]:
        """The mean loss on held-out data, and the accuracy for class-index targets."""
        chosen = training.regime_of(self.SPEC, regime)
        targets = by_name(self.SPEC.outputs, targets, "evaluate", "targets")
        if loss is None:
            loss = chosen.loss if chosen and chosen.loss else \
                training.default_loss(self.SPEC, targets)
        if every_tick is None:
            every_tick = bool(chosen and chosen.every_tick)
        if ticks is None and chosen is not None:
            ticks = chosen.ticks
        inputs = {name: np.asarray(x)
                  for name, x in by_name(self.SPEC.inputs, inputs, "evaluate").items()}
        return training.evaluate(self, inputs, targets, loss, ticks, every_tick)

    def states(self) -> dict[str, dict[str, np.ndarray]]:
        """Every model group's state variables where the last run ended, each (batch, *shape):
        with `run(..., reset=False)` one tick at a time, a neuron's dynamics can be watched."""
        if not hasattr(self, "_batch"):
            raise InputError("states() describes the last run: run the network first")
        shaped = {}
        for name, variables in self._last_states().items():
            shape = (self._batch,) + self.SPEC.group(name).shape
            shaped[name] = {var: np.asarray(v).reshape(shape) for var, v in variables.items()}
        return shaped

    def _last_states(self) -> dict[str, dict[str, np.ndarray]]:
        """Hook: {group: {state: (batch, size)}} at the end of the last run."""
        raise NotImplementedError

    # ---- training hooks: a recorded run, and backpropagation through it ----

    def _forward_for_grad(self, inputs: dict[str, np.ndarray], ticks: int, batch: int) -> None:
        """Run from the start, recording what backpropagation needs."""
        raise NotImplementedError

    def _recorded(self, group: str, what: str) -> np.ndarray:
        """(ticks, batch, size): an output group's "out" or "net" at every recorded tick."""
        raise NotImplementedError

    def _backward(self, seeds_out: dict, seeds_net: dict) -> dict[str, np.ndarray]:
        """Gradients keyed like the weight file, from d loss / d out (or d net) of the output
        groups at every tick, each (ticks, batch, size)."""
        raise NotImplementedError

    def _traced(self) -> tuple[dict, dict]:
        """Every group's output and d loss / d net at every tick of the last backward pass."""
        raise NotImplementedError

    def _trainable(self) -> dict[str, np.ndarray]:
        """The weights and biases under the weight file's names, for an optimiser to update."""
        raise NotImplementedError

    def _trained(self, arrays: dict[str, np.ndarray]) -> None:
        """Take back what the optimiser updated (a backend whose arrays are views: nothing)."""

    def parameters(self) -> dict[str, np.ndarray]:
        """The weight file's arrays: `NAME.pre`, `NAME.post`, `NAME.w` (and `NAME.tie` for shared
        kernels), `GROUP.bias`, `GROUP.STATE` for each state variable of a model group, and
        `GROUP.PARAM` for each parameter it holds per neuron or trains."""
        synapses, biases = self._get_parameters()
        arrays = {}
        for name, syn in synapses.items():
            arrays[f"{name}.pre"] = np.asarray(syn.pre, dtype=np.int64)
            arrays[f"{name}.post"] = np.asarray(syn.post, dtype=np.int64)
            arrays[f"{name}.w"] = np.asarray(syn.w, dtype=self.dtype)
            if syn.tie is not None:
                arrays[f"{name}.tie"] = np.asarray(syn.tie, dtype=np.int64)
        for name, bias in biases.items():
            arrays[f"{name}.bias"] = np.asarray(bias, dtype=self.dtype)
        for name, states in self.start_states.items():
            for var, values in states.items():
                arrays[f"{name}.{var}"] = np.asarray(values, dtype=self.dtype)
        for name, params in self._get_model_params().items():
            for param, values in params.items():
                arrays[f"{name}.{param}"] = np.asarray(values, dtype=self.dtype)
        return arrays

    def metadata(self) -> dict:
        spec = self.SPEC
        return {"source": spec.source, "sha256": spec.sha256, "network": spec.name,
                "nndl_version": self.NNDL_VERSION, "dtype": self.dtype, "backend": self.BACKEND,
                "seed": self.seed}

    def save(self, path) -> None:
        """Write every weight and bias to an `.npz` (atomically: a crash leaves the old file)."""
        weightfile.save(path, self.parameters(), self.metadata())

    def load(self, path) -> None:
        """Read weights saved by any backend; a file that does not fit changes nothing."""
        self._load_arrays(*weightfile.load(path, self.SPEC, self.dtype), path)

    def _load_arrays(self, arrays: dict, meta: dict, path) -> None:
        """Install a weight file's arrays, checked by `weightfile.load`; on error nothing
        changes."""
        synapses = {}
        for p in self.SPEC.projections:
            pre, post = arrays[f"{p.name}.pre"], arrays[f"{p.name}.post"]
            tie = arrays.get(f"{p.name}.tie")
            _check_fixed_rule(self.SPEC, p, pre, post, tie, path)
            synapses[p.name] = Synapses(pre.astype(np.int64), post.astype(np.int64),
                                        arrays[f"{p.name}.w"].astype(np.float64),
                                        None if tie is None else tie.astype(np.int64))
        biases = {g.name: arrays[f"{g.name}.bias"].astype(np.float64)
                  for g in self.SPEC.groups if g.bias}
        states = {name: {var: arrays[f"{name}.{var}"].astype(np.float64) for var in values}
                  for name, values in self.start_states.items()}
        params = {name: {p: arrays[f"{name}.{p}"].astype(np.float64) for p in values}
                  for name, values in self.model_params.items()}
        if meta.get("sha256") != self.SPEC.sha256:
            warnings.warn(f"{path} was saved from a different source text of network "
                          f"`{self.SPEC.name}` ({meta.get('source')}); its structure fits, "
                          "so it was loaded", stacklevel=3)
        previous = self.start_states, self.model_params
        self.start_states, self.model_params = states, params
        try:
            self._install(synapses, biases)
        except CycleError as e:  # the file's synapses are at fault here, not the source text
            self.start_states, self.model_params = previous
            names = ", ".join(f"`{p.name}`" for p in e.projections)
            raise WeightFileError(f"{path}: the delay-0 synapses of {names} in this file form a "
                                  "cycle from neuron to neuron; they must form a DAG") from None

    def summary(self):
        """The network as it is now (groups, connections, synapse and parameter counts,
        memory, regimes): an `nndl.summary.Summary`, which prints as text, shows as tables in
        Jupyter and holds the numbers (`.groups`, `.projections`, `.parameters`, ...)."""
        from nndl.summary import describe

        return describe(self)

    def __str__(self) -> str:  # print(net): the summary; repr(net) stays one line
        return self.summary().text()

    def _repr_html_(self) -> str:  # Jupyter
        return self.summary().html()

    def __repr__(self) -> str:
        spec = self.SPEC
        synapses = self._get_parameters()[0].values()
        count = sum(syn.pre.size for syn in synapses)
        weights = sum(np.size(syn.w) for syn in synapses)
        biases = sum(g.bias_count for g in spec.groups)
        return (f"<{spec.name} Network ({self.BACKEND}, {self.dtype}, seed {self.seed}): "
                f"{len(spec.groups)} groups, {len(spec.projections)} projections, "
                f"{count:,} synapses, {weights + biases:,} parameters>")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number, 0 or more; got {seed!r}")
    return int(seed)


def _check_dtype(dtype) -> str:
    name = np.dtype(dtype).name if dtype in (np.float32, np.float64) else str(dtype)
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return name


def _check_fixed_rule(spec: ir.Network, p: ir.Projection, pre, post, tie, path) -> None:
    """A projection whose rule ignores the seed must have exactly its rule's synapses (or,
    when a regime rewires it, some of them)."""
    if rewiring.rewired(spec, p.name):
        if not rewiring.subset_of_candidates(spec, p, pre, post):
            raise WeightFileError(f"{path}: projection `{p.name}` has synapses its rule "
                                  f"({p.rule.kind}) does not allow")
        return
    if p.rule.kind not in FIXED_RULES:
        return
    want_pre, want_post, want_tie, _ = connect(p.rule, spec.group(p.src), spec.group(p.dst),
                                               np.random.default_rng(0))
    same_ties = (tie is None) == (want_tie is None) and (tie is None or
                                                         np.array_equal(tie, want_tie))
    if not (np.array_equal(pre, want_pre) and np.array_equal(post, want_post) and same_ties):
        raise WeightFileError(f"{path}: projection `{p.name}` ({p.rule.kind}) should have "
                              f"{want_pre.size} synapses in rule order; the file has {pre.size} "
                              "others")
