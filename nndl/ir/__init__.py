"""The IR: a checked network as plain data. Nothing downstream of it reads the source again.

Every class round-trips through JSON (`to_dict` / `from_dict`). Beside it: the expression IR
that conditions and neuron models compute (`expr`), its symbolic derivatives (`derivatives`) and
the reverse mode of one tick built from them (`reverse`), topological order and cycles
(`graph`), and the readable listing of `nndlc ir` (`listing`).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field

ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "step", "softmax")


@dataclass(frozen=True)
class Loc:
    """Where a construct was declared, for messages raised after compilation (e.g. on load)."""

    line: int
    column: int
    end_column: int = 0  # on the same line; 0 when unknown

    @classmethod
    def of(cls, span) -> Loc:
        """The start of a source span (anything with line, column, end_line, end_column)."""
        return cls(span.line, span.column, span.end_column if span.end_line == span.line else 0)

    @classmethod
    def from_dict(cls, d: dict | None) -> Loc | None:
        return cls(**d) if d else None


@dataclass(frozen=True)
class Group:
    name: str
    shape: tuple[int, ...]
    role: str  # "input", "hidden" or "output"
    activation: str | None  # one of ACTIVATIONS; None for inputs and model groups
    # the activation's arguments (leaky_relu's slope) or the model's parameters, overrides applied:
    # a model parameter may be an expression evaluated per neuron (see NeuronModel.params)
    params: dict[str, float | dict] = field(default_factory=dict)
    bias: bool = True  # inputs never have one
    bias_init: float = 0.0
    loc: Loc | None = None
    model: str | None = None  # a neuron model's name (then `activation` is None)
    init: float = 0.0  # the output before the first tick, seen through delays

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def bias_count(self) -> int:
        """Its trainable biases: one per neuron, unless it is an input or has `bias none`."""
        return self.size if self.bias and self.role != "input" else 0

    @classmethod
    def from_dict(cls, d: dict) -> Group:
        return cls(
            name=d["name"],
            shape=tuple(d["shape"]),
            role=d["role"],
            activation=d["activation"],
            params=dict(d["params"]),
            bias=d["bias"],
            bias_init=d["bias_init"],
            loc=Loc.from_dict(d["loc"]),
            model=d["model"],
            init=d["init"],
        )


@dataclass(frozen=True)
class NeuronModel:
    """A neuron with parameters and state, updated each tick by statements run in order.

    Statements are (target, expression in nndl.ir.expr's dict form, with explicit number/truth
    conversions); they read `net` and parameters, states and earlier temporaries, and assign
    `out`, states and temporaries.
    """

    name: str
    # defaults, in declaration order: a number, or an expression evaluated per neuron at build
    # time (nndl.ir.expr's dict form, over `index`, `coord.K`, draws and earlier parameters)
    params: dict[str, float | dict]
    # starting values, in declaration order: numbers or expressions as `params` (which may also
    # read the earlier states)
    states: dict[str, float | dict]
    statements: tuple[tuple[str, dict], ...]
    source: str = ""
    loc: Loc | None = None
    trainable: tuple[str, ...] = ()  # parameters that backpropagation learns
    # the named input sums its statements read (`sum(NAME)`, the variable `sum.NAME`), in order
    # of first use: each fed by the projections with `target NAME`, as `net` by the others
    sums: tuple[str, ...] = ()

    def per_neuron(self, group: "Group") -> tuple[str, ...]:
        """The parameters that a group of this model holds as arrays (saved as GROUP.NAME):
        those given as expressions, and the trainable ones."""
        return tuple(p for p in self.params
                     if p in self.trainable or isinstance(group.params[p], dict))

    @property
    def draws(self) -> bool:
        """Whether a statement calls `rand()` or `randn()` (its functions then take `noise`)."""
        from nndl.ir import expr  # the expression IR's module, beside this one

        return any(expr.draws(expr.from_dict(value)) for _, value in self.statements)

    @functools.cached_property
    def spikes(self) -> bool:
        """Whether its `out` is always 0 or 1 (a spike or none), as nndl.ir.expr.spikes proves
        from its statements: then its groups send spikes, computed event by event."""
        from nndl.ir import expr

        return expr.spikes([(target, expr.from_dict(value)) for target, value in self.statements])

    @classmethod
    def from_dict(cls, d: dict) -> NeuronModel:
        return cls(d["name"], dict(d["params"]), dict(d["states"]),
                   tuple((target, value) for target, value in d["statements"]), d["source"],
                   Loc.from_dict(d["loc"]), tuple(d.get("trainable", ())),
                   tuple(d.get("sums", ())))


def sum_variable(name: str) -> str:
    """The expression IR's variable of a model's input sum `sum(NAME)`."""
    return f"sum.{name}"


EVENTS = ("every", "on_pre", "on_post")  # a plasticity rule's blocks, in the order they run
BUILTIN_RULES = "<builtin rules>"  # the source of hebb, oja and perceptron (a built-in .nndl file)


@dataclass(frozen=True)
class PlasticityRule:
    """A `rule` block: a synapse's own learning, run after the neurons' update each tick.

    Each block holds statements (target, expression in nndl.ir.expr's dict form, conversions
    explicit) run in order: `every` for every synapse, `on_pre` for the synapses whose source's
    output (as the connection delivers it) is nonzero this tick, `on_post` for those whose
    target's output is. They read `w`, `pre`, `post` (the two outputs), `pre.X` / `post.X` (the
    two neurons' model states and parameters: `reads`), the rule's states, parameters and
    modulators (signals each `learn` feeds: LocalRule.modulators) and earlier temporaries, and
    assign `w`, states and temporaries. `lazy` names the states whose `every tick` statement
    runs at events instead (nndl.ir.lazy_traces). `target` (when `target` is true) is the
    target neuron's target value, in a regime with data. `bias` holds the `bias = ...`
    statements of the `every tick` block: run once per target neuron (reading `bias`, `post`,
    `post.X`, `target` and parameters), they move the target group's bias.
    """

    name: str
    params: dict[str, float]  # defaults, in declaration order
    states: dict[str, float]  # starting values of the per-synapse states, in declaration order
    every: tuple[tuple[str, dict], ...] = ()
    on_pre: tuple[tuple[str, dict], ...] = ()
    on_post: tuple[tuple[str, dict], ...] = ()
    reads: tuple[str, ...] = ()  # `pre.X` and `post.X` the statements read, in source order
    source: str = ""
    loc: Loc | None = None
    modulators: tuple[str, ...] = ()  # `modulator reward`, in declaration order
    lazy: tuple[str, ...] = ()  # traces computed at events (nndl.ir.lazy_traces)
    target: bool = False  # whether a statement reads `target` (it then needs targets)
    bias: tuple[tuple[str, dict], ...] = ()  # `bias = ...`, once per target neuron

    @property
    def builtin(self) -> bool:
        """Whether it is one of the built-in rules (hebb, oja, perceptron), not the user's."""
        return self.source == BUILTIN_RULES

    def block(self, event: str) -> tuple[tuple[str, dict], ...]:
        return getattr(self, event)

    @functools.cached_property  # asked once per synapse visited (nndl.runtime.synapse_rules)
    def draws(self) -> bool:
        from nndl.ir import expr

        return any(expr.draws(expr.from_dict(value)) for event in EVENTS
                   for _, value in self.block(event))

    @classmethod
    def from_dict(cls, d: dict) -> PlasticityRule:
        def statements(key):
            return tuple((target, value) for target, value in d[key])

        return cls(d["name"], dict(d["params"]), dict(d["states"]), statements("every"),
                   statements("on_pre"), statements("on_post"), tuple(d["reads"]), d["source"],
                   Loc.from_dict(d["loc"]), tuple(d.get("modulators", ())),
                   tuple(d.get("lazy", ())), d.get("target", False),
                   tuple((target, value) for target, value in d.get("bias", ())))


@dataclass(frozen=True)
class Rule:
    """Which synapses a projection has: `full`, `one_to_one`, ... with its checked parameters.

    A condition parameter (`where(...)`'s `condition`, `where=` of random and fan_in) is held in
    the expression IR's dict form (nndl.ir.expr.to_dict), so the IR stays plain JSON data.
    """

    kind: str
    params: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> Rule:
        return cls(d["kind"], dict(d["params"]))


@dataclass(frozen=True)
class Init:
    """How a projection's weights start: `default` (fan-in scaled), `normal`, `uniform` or
    `constant`."""

    kind: str
    params: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> Init:
        return cls(d["kind"], dict(d["params"]))


@dataclass(frozen=True)
class Projection:
    name: str  # `as NAME`, else `SRC->DST`; keys the weight file and the seeded stream
    src: str
    dst: str
    rule: Rule
    init: Init
    delay: int = 0
    loc: Loc | None = None
    target: str | None = None  # the destination model's input sum it feeds; None: its `net`

    @classmethod
    def from_dict(cls, d: dict) -> Projection:
        return cls(
            name=d["name"],
            src=d["src"],
            dst=d["dst"],
            rule=Rule.from_dict(d["rule"]),
            init=Init.from_dict(d["init"]),
            delay=d["delay"],
            loc=Loc.from_dict(d["loc"]),
            target=d.get("target"),
        )


@dataclass(frozen=True)
class Step:
    """One step of a tick: a group computed at once, or groups computed neuron by neuron.

    `neuron_level` steps hold groups whose delay-0 synapses run among their own neurons (a
    self-connection, or groups that feed each other); their neurons are computed in topological
    levels of those synapses, which the runtime finds once the synapses exist.
    """

    groups: tuple[str, ...]
    neuron_level: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        return cls(tuple(d["groups"]), d["neuron_level"])


DEFAULT_ADAM = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
DEFAULT_ADAMW = dict(DEFAULT_ADAM, weight_decay=0.01)  # torch.optim.AdamW's defaults


@dataclass(frozen=True)
class Optimizer:
    """`sgd(lr, momentum=0, weight_decay=0)`, `adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8,
    weight_decay=0)` or `adamw(...)` (Adam's, with `weight_decay=0.01`), defaults filled in."""

    kind: str  # "sgd", "adam" or "adamw"
    params: dict

    @classmethod
    def from_dict(cls, d: dict) -> Optimizer:
        return cls(d["kind"], dict(d["params"]))


@dataclass(frozen=True)
class Modulator:
    """What feeds a rule's `modulator` where it is learned: `reward=critic` (kind "group": the
    group's output this tick, one value for all synapses from a group of 1, one per target
    neuron from a group of the target's size) or `reward=external` (kind "external": a Python
    function given to `fit(modulators=...)`, called each tick)."""

    name: str  # the rule's modulator
    kind: str  # "group" or "external"
    source: str = ""  # the group's name (kind "group")

    @classmethod
    def from_dict(cls, d: dict) -> Modulator:
        return cls(d["name"], d["kind"], d["source"])


@dataclass(frozen=True)
class Schedule:
    """`schedule cosine(final_lr=0)`: the optimiser's learning rate along half a cosine, from its
    `lr` at the first step to `final_lr` after the last (PyTorch's CosineAnnealingLR over every
    step of the run). A regime without one (or with `schedule constant`) keeps `lr`."""

    kind: str  # "cosine"
    params: dict

    @classmethod
    def from_dict(cls, d: dict) -> Schedule:
        return cls(d["kind"], dict(d["params"]))


@dataclass(frozen=True)
class LocalRule:
    """`learn SRC -> DST : oja(rate=0.001)`: a projection updated from pre- and post-synaptic
    activity alone."""

    projection: str  # the projection's name
    kind: str  # "hebb", "oja", "perceptron", or a `rule` block's name (Network.plasticity)
    params: dict
    loc: Loc | None = None
    modulators: tuple[Modulator, ...] = ()  # one for each of the rule's, in its order

    @classmethod
    def from_dict(cls, d: dict) -> LocalRule:
        return cls(d["projection"], d["kind"], dict(d["params"]), Loc.from_dict(d["loc"]),
                   tuple(Modulator.from_dict(m) for m in d.get("modulators", ())))


@dataclass(frozen=True)
class Rewire:
    """`rewire SRC -> DST : prune(below=0.01) grow(count=16) every 50`: structural plasticity;
    `prune(keep=0.1, over=20)` prunes to a fraction instead (nndl.runtime.rewiring)."""

    projection: str  # the projection's name
    prune_below: float | None  # remove synapses whose |weight| is below this; None: not so
    grow_count: int | None  # new synapses grown among the rule's candidates; None: no growth
    every: int = 1  # in training steps
    loc: Loc | None = None
    prune_keep: float | None = None  # keep this fraction of the built synapses; None: not so
    prune_over: int = 1  # ... reached by the cubic schedule at this rewiring event

    @classmethod
    def from_dict(cls, d: dict) -> Rewire:
        return cls(d["projection"], d["prune_below"], d["grow_count"], d["every"],
                   Loc.from_dict(d["loc"]), d.get("prune_keep"), d.get("prune_over", 1))

    def actions(self) -> str:
        """The actions as written: `prune(keep=0.1, over=20) grow(count=4)`."""
        words = []
        if self.prune_below is not None:
            words.append(f"prune(below={self.prune_below:g})")
        if self.prune_keep is not None:
            over = f", over={self.prune_over}" if self.prune_over != 1 else ""
            words.append(f"prune(keep={self.prune_keep:g}{over})")
        if self.grow_count is not None:
            words.append(f"grow(count={self.grow_count})")
        return " ".join(words)


@dataclass(frozen=True)
class Regime:
    """A `train` block: how a network learns, with every default filled in."""

    name: str
    data: str | None  # a built-in data set's name or a path to an .npz (as written); None: none
    data_args: dict  # the built-in data set's arguments as written: {"n": 4} for parity(n=4)
    loss: str | None  # "mse" or "cross_entropy"; None for a regime of local rules only
    every_tick: bool  # the loss is averaged over every tick (else: taken at the last tick)
    optimizer: Optimizer | None  # adam with DEFAULT_ADAM when a loss has none; None without loss
    batch: int = 32
    epochs: int = 10
    ticks: int = 1
    input: str | None = None  # the input group the data feeds; None: the network's only input
    output: str | None = None  # the output group of the targets; None: the network's only output
    learn: tuple[LocalRule, ...] = ()
    rewire: tuple[Rewire, ...] = ()
    loc: Loc | None = None
    schedule: Schedule | None = None  # None: the optimiser's lr throughout

    @classmethod
    def from_dict(cls, d: dict) -> Regime:
        optimizer, schedule = d["optimizer"], d.get("schedule")
        return cls(
            name=d["name"],
            data=d["data"],
            data_args=dict(d["data_args"]),
            loss=d["loss"],
            every_tick=d["every_tick"],
            optimizer=Optimizer.from_dict(optimizer) if optimizer else None,
            batch=d["batch"],
            epochs=d["epochs"],
            ticks=d["ticks"],
            input=d["input"],
            output=d["output"],
            learn=tuple(LocalRule.from_dict(r) for r in d["learn"]),
            rewire=tuple(Rewire.from_dict(r) for r in d["rewire"]),
            loc=Loc.from_dict(d["loc"]),
            schedule=Schedule.from_dict(schedule) if schedule else None,
        )


@dataclass(frozen=True)
class Network:
    name: str
    seed: int
    groups: tuple[Group, ...]  # in evaluation (topological) order, inputs first
    projections: tuple[Projection, ...]  # in source order
    source: str = ""  # the file it came from, as given
    sha256: str = ""  # of the source text
    schedule: tuple[Step, ...] = ()  # the non-input groups, step by step, in evaluation order
    models: tuple[NeuronModel, ...] = ()  # the neuron models its groups use
    regimes: tuple[Regime, ...] = ()  # the train blocks for this network, in source order
    rules: tuple[PlasticityRule, ...] = ()  # the `rule` blocks its regimes' `learn` use

    def group(self, name: str) -> Group:
        return self._group_named[name]  # KeyError(name) for a name it does not have

    @functools.cached_property
    def _group_named(self) -> dict[str, Group]:
        # built once: a lookup per projection by scanning the groups made checking quadratic
        return {g.name: g for g in self.groups}

    @property
    def inputs(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.role == "input")

    @property
    def outputs(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.role == "output")

    def incoming(self, group: str) -> tuple[Projection, ...]:
        """The projections into `group`, in source order."""
        return self._incoming.get(group, ())

    @functools.cached_property
    def _incoming(self) -> dict[str, tuple[Projection, ...]]:
        into: dict[str, list[Projection]] = {}
        for p in self.projections:
            into.setdefault(p.dst, []).append(p)
        return {name: tuple(found) for name, found in into.items()}

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)  # key order matters: model states

    @classmethod
    def from_dict(cls, d: dict) -> Network:
        return cls(
            name=d["name"],
            seed=d["seed"],
            groups=tuple(Group.from_dict(g) for g in d["groups"]),
            projections=tuple(Projection.from_dict(p) for p in d["projections"]),
            source=d["source"],
            sha256=d["sha256"],
            schedule=tuple(Step.from_dict(step) for step in d["schedule"]),
            models=tuple(NeuronModel.from_dict(m) for m in d["models"]),
            regimes=tuple(Regime.from_dict(r) for r in d.get("regimes", ())),  # old caches
            rules=tuple(PlasticityRule.from_dict(r) for r in d.get("rules", ())),
        )

    def plasticity(self, kind: str) -> PlasticityRule | None:
        """The `rule` block a local rule of this kind runs (the built-in hebb, oja and
        perceptron are rule blocks too); None for a kind no regime learns by."""
        return next((r for r in self.rules if r.name == kind), None)

    def needs_targets(self, learn: tuple[LocalRule, ...]) -> bool:
        """Whether one of the local rules reads `target` (as the perceptron does)."""
        return any(rule.target for rule in map(self.plasticity, (r.kind for r in learn)) if rule)

    def model(self, name: str) -> NeuronModel:
        return next(m for m in self.models if m.name == name)

    def regime(self, name: str | None = None) -> Regime:
        """The named regime, or the first one (in source order) when `name` is None."""
        for r in self.regimes:
            if name is None or r.name == name:
                return r
        names = ", ".join(r.name for r in self.regimes)
        if not names:
            raise KeyError(f"network `{self.name}` has no train block; add one with "
                           f"`train NAME for {self.name} {{ ... }}`")
        raise KeyError(f"network `{self.name}` has no regime `{name}` (it has: {names})")

    def max_delay(self, group: str) -> int:
        """The longest delay of the projections out of `group` (0 if none is delayed)."""
        return self._max_delay.get(group, 0)

    @functools.cached_property
    def _max_delay(self) -> dict[str, int]:
        longest: dict[str, int] = {}
        for p in self.projections:
            longest[p.src] = max(longest.get(p.src, 0), p.delay)
        return longest

    def step_of(self, group: str) -> Step:
        return self._step_of[group]

    def spiking(self, group: str) -> bool:
        """Whether a group's output is a spike train: a model that `spikes`, starting from no
        spike (`init 0`). Its outgoing projections are then computed event-driven: each tick
        only the synapses of the neurons that fired (see docs/language.md)."""
        g = self.group(group)
        return g.model is not None and g.init == 0.0 and self.model(g.model).spikes

    def event_driven(self, p: Projection) -> bool:
        """Whether a projection's forward sum is event-driven in every backend: its source is
        `spiking`, so each tick visits only the synapses of the neurons that fired. A delay-0
        link inside a neuron-level step (summed neuron by neuron) and a projection that a
        regime rewires (its synapse set changes) keep their own sums."""
        step = self.step_of(p.dst)
        inner = p.delay == 0 and step.neuron_level and p.src in step.groups
        rewired = any(r.projection == p.name for regime in self.regimes for r in regime.rewire)
        return self.spiking(p.src) and not inner and not rewired

    def inputs_of(self, group: str, target: str | None = None) -> list[Projection]:
        """The projections into a group that feed its `net` (target None), or its model's
        named input sum `sum(target)`."""
        return [p for p in self.incoming(group) if p.target == target]

    @functools.cached_property
    def _step_of(self) -> dict[str, Step]:
        return {name: step for step in self.schedule for name in step.groups}

    @classmethod
    def from_json(cls, text: str) -> Network:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Program:
    """Everything one file declares."""

    source: str
    sha256: str
    networks: tuple[Network, ...]

    def network(self, name: str | None = None) -> Network:
        """The named network, or the only one when `name` is None."""
        if name is None:
            if len(self.networks) != 1:
                names = ", ".join(n.name for n in self.networks)
                raise KeyError(f"{self.source} declares {len(self.networks)} networks ({names}); "
                               "name one")
            return self.networks[0]
        for n in self.networks:
            if n.name == name:
                return n
        names = ", ".join(n.name for n in self.networks) or "none"
        raise KeyError(f"{self.source} has no network `{name}` (it declares: {names})")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)  # key order matters: model states

    @classmethod
    def from_dict(cls, d: dict) -> Program:
        return cls(d["source"], d["sha256"], tuple(Network.from_dict(n) for n in d["networks"]))

    @classmethod
    def from_json(cls, text: str) -> Program:
        return cls.from_dict(json.loads(text))
