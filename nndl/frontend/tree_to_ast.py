"""Lark parse tree -> AST dataclasses (nndl.frontend.syntax), keeping every node's source span."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from nndl.frontend import syntax as s
from nndl.diagnostics import Span


def _ident(tok: Token) -> s.Ident:
    return s.Ident(str(tok), Span.of(tok))


def _binary(op: str):
    def build(self, meta, children):
        left, right = children
        return s.Binary(op, left, right, Span.of(meta))

    return build


def _options(options: list[tuple], tag: str) -> tuple:
    """The values of every `tag` option (`bias`, `init`) in the order written."""
    return tuple(value for name, value in options if name == tag)


def _setting(key: str):
    def build(self, meta, children):
        (value,) = children
        if isinstance(value, Token):  # `data "path"` (quotes dropped), `input NAME`
            value = str(value)[1:-1] if value.type == "STRING" else _ident(value)
        return s.Setting(key, value, Span.of(meta))

    return build


def _projection(names: list) -> tuple[s.Ident, s.Ident | None]:
    """`SRC -> DST` as (SRC, DST); a connection's name as (NAME, None)."""
    names = [_ident(tok) for tok in names]
    return names[0], names[1] if len(names) > 1 else None


@v_args(meta=True)
class ToAst(Transformer):
    """One method per grammar rule; each returns an AST node."""

    def __init__(self):
        super().__init__()
        # Lark's v_args wraps each method anew whenever it is looked up, once per tree node
        # (a third of the whole transform); bound once here, the lookups find them ready.
        for name in dir(type(self)):
            if not name.startswith("_") and hasattr(getattr(type(self), name), "visit_wrapper"):
                self.__dict__[name] = getattr(self, name)

    def start(self, meta, children):
        return s.Program(list(children))

    # ---- network blocks ----

    def network(self, meta, children):
        name, *statements = children
        return s.NetworkBlock(_ident(name), tuple(statements), Span.of(meta))

    def param_stmt(self, meta, children):
        return s.ParamStmt(_ident(children[0]), children[1], Span.of(meta))

    def seed_stmt(self, meta, children):
        return s.SeedStmt(children[0], Span.of(meta))

    def input_decl(self, meta, children):
        name, shape, *options = children
        return s.GroupDecl("input", _ident(name), shape[0], shape[1], None,
                           _options(options, "bias"), Span.of(meta), _options(options, "init"))

    def group_decl(self, meta, children):
        return self._group("group", meta, children)

    def output_decl(self, meta, children):
        return self._group("output", meta, children)

    def _group(self, role, meta, children):
        name, shape, *rest = children
        model = next((c for c in rest if isinstance(c, s.Call)), None)
        options = [c for c in rest if isinstance(c, tuple)]
        return s.GroupDecl(role, _ident(name), shape[0], shape[1], model,
                           _options(options, "bias"), Span.of(meta), _options(options, "init"))

    def shape(self, meta, children):
        return tuple(children), Span.of(meta)

    def bias_opt(self, meta, children):
        return ("bias", children[0])

    def init_opt(self, meta, children):
        return ("init", children[0])

    def connect(self, meta, children):
        src, dst, rule, *options = children
        weight = tuple(v for k, v in options if k == "weight")
        delay = tuple(v for k, v in options if k == "delay")
        alias = tuple(v for k, v in options if k == "as")
        target = tuple(v for k, v in options if k == "target")
        return s.Connect(_ident(src), _ident(dst), rule, weight, delay, alias, Span.of(meta),
                         target)

    def weight_opt(self, meta, children):
        return ("weight", children[0])

    def delay_opt(self, meta, children):
        return ("delay", children[0])

    def alias_opt(self, meta, children):
        return ("as", _ident(children[0]))

    def target_opt(self, meta, children):
        return ("target", _ident(children[0]))

    def bare_spec(self, meta, children):
        (name,) = children
        return s.Call(_ident(name), (), (), Span.of(name), parenthesised=False)

    def call(self, meta, children):
        name, *args = children
        positional = tuple(a for a in args if not isinstance(a, s.KwArg))
        keywords = tuple(a for a in args if isinstance(a, s.KwArg))
        return s.Call(_ident(name), positional, keywords, Span.of(meta))

    def kwarg(self, meta, children):
        name, value = children
        return s.KwArg(_ident(name), value)

    # ---- neuron models ----

    def neuron(self, meta, children):
        name, *statements = children
        return s.NeuronBlock(_ident(name), tuple(statements), Span.of(meta))

    def param_decl(self, meta, children):
        return s.VarDecl("param", _ident(children[0]), children[1], Span.of(meta),
                         trainable=len(children) > 2)

    def state_decl(self, meta, children):
        return s.VarDecl("state", _ident(children[0]), children[1], Span.of(meta))

    def assign(self, meta, children):
        return s.Assign(_ident(children[0]), children[1], Span.of(meta))

    # ---- learning rules ----

    def rule(self, meta, children):
        name, *statements = children
        return s.RuleBlock(_ident(name), tuple(statements), Span.of(meta))

    def modulator_decl(self, meta, children):
        return s.ModulatorDecl(_ident(children[0]), Span.of(meta))

    def every_tick(self, meta, children):
        event = s.Ident("every tick", Span.of(meta))
        return s.RuleEvent(event, tuple(children), Span.of(meta))

    def on_event(self, meta, children):
        name, *statements = children
        return s.RuleEvent(_ident(name), tuple(statements), Span.of(meta))

    def rule_assign(self, meta, children):
        *names, value = children
        target = _ident(names[0]) if len(names) == 1 else \
            s.Ident(f"{names[0]}.{names[1]}", Span.of(names[0]).to(Span.of(names[1])))
        return s.Assign(target, value, Span.of(meta))

    # ---- training regimes ----

    def train(self, meta, children):
        name, *rest = children
        network = _ident(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        return s.TrainBlock(_ident(name), network, tuple(rest), Span.of(meta))

    data_stmt = _setting("data")
    loss_stmt = _setting("loss")
    optimizer_stmt = _setting("optimizer")
    schedule_stmt = _setting("schedule")
    batch_stmt = _setting("batch")
    epochs_stmt = _setting("epochs")
    ticks_stmt = _setting("ticks")

    train_input_stmt = _setting("input")
    train_output_stmt = _setting("output")

    def learn_stmt(self, meta, children):
        *names, rule = children
        src, dst = _projection(names)
        return s.Learn(src, dst, rule, Span.of(meta))

    def rewire_stmt(self, meta, children):
        names = [c for c in children if isinstance(c, Token)]
        src, dst = _projection(names)
        actions = tuple(c for c in children if isinstance(c, s.Call))
        every = [c[1] for c in children if isinstance(c, tuple)]
        return s.Rewire(src, dst, actions, every[0] if every else None, Span.of(meta))

    def every_opt(self, meta, children):
        return ("every", children[0])

    # ---- expressions ----

    def number(self, meta, children):
        (tok,) = children
        return s.Number(float(tok), str(tok), Span.of(tok))

    def true(self, meta, children):
        return s.Bool(True, Span.of(meta))

    def false(self, meta, children):
        return s.Bool(False, Span.of(meta))

    def var(self, meta, children):
        return s.Var(str(children[0]), Span.of(children[0]))

    def attr(self, meta, children):
        obj, attr = children
        return s.Attr(str(obj), str(attr), Span.of(meta))

    def subscript(self, meta, children):
        base, index = children
        return s.Subscript(base, index, Span.of(meta))

    def neg(self, meta, children):
        return s.Unary("-", children[0], Span.of(meta))

    def pos(self, meta, children):
        return s.Unary("+", children[0], Span.of(meta))

    def not_(self, meta, children):
        return s.Unary("not", children[0], Span.of(meta))

    def compare(self, meta, children):
        left, op, right = children
        return s.Binary(str(op), left, right, Span.of(meta))

    def ifelse(self, meta, children):
        then, cond, other = children
        return s.IfElse(then, cond, other, Span.of(meta))

    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    mod = _binary("%")
    pow = _binary("**")
    and_ = _binary("and")
    or_ = _binary("or")
