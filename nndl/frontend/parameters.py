"""`param NAME = VALUE` at file and network scope, resolved in the AST before any other check.

Each use of a parameter's name in a network block (shapes, rule and initialiser arguments,
delays, the seed, conditions, model arguments) or in a train block for that network (counts,
optimiser and data set arguments, local rules) becomes its value: a `Number` (or `Bool`) node
with the span of the use. Every later check then reads it exactly as it reads a literal, so a
parameter is checked like one, and the IR holds only concrete values: no backend knows about
parameters. Values are computed once, here, by the front end's one constant folder
(`signatures.constant`, the same that reads `[4 * 2]`), so `param hidden = 2 * n` follows `n`
when `--set n=...` changes it.

A diagnostic about a number that came from a parameter gets a note naming the parameter, its
value and where that value was set (the declaration, or the override).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from nndl.diagnostics import Diagnostics, Span, suggest
from nndl.frontend import syntax as s
from nndl.frontend.signatures import RULES, constant

# Names a parameter may not take: words the language reads as names where a number could
# stand (`bias none`, `metric=chebyshev`, `index` and `coord` in per-neuron expressions).
RESERVED = ("none", "index", "coord", "pre", "post", "net", "out",
            *(c for params in RULES.values() for p in params for c in p.choices))
# What `--set NAME=VALUE` accepts as a value: a number as the language writes it, or a truth value.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class OverrideError(ValueError):
    """An override's value is not a number or a truth value (a command-line mistake)."""


@dataclass(frozen=True)
class Binding:
    """A parameter's value and where it was set: its declaration, or an override."""

    name: str
    value: float | bool | None  # None: its value has an error (reported)
    declared: Span | None  # the `param` statement, or its name where an override replaced it
    override: str | None  # `--set n=64` or `params={'n': 64}` when overridden, else None
    sources: tuple[Binding, ...] = ()  # the parameters its declared value was computed from

    def notes(self) -> list[tuple[str, Span | None]]:
        """Where its value was set, then where the values it was computed from were."""
        shown = _show(self.value)
        if self.override is not None:
            return [(f"`{self.name}` is {shown}, set by {self.override}", None)]
        return [(f"`{self.name}` is {shown}, set here", self.declared),
                *(note for source in self.sources for note in source.notes())]


@dataclass
class Resolved:
    """The program with every parameter replaced by its value, and what was replaced where."""

    program: s.Program
    values: dict[str, float | bool]  # every parameter's final value (file scope, then networks')
    uses: list[tuple[Span, Binding]]
    misspelt: list[tuple[Span, str]]  # a name near a parameter's, with the hint for it
    broken: list[Span]  # uses of parameters whose own value has an error (reported there)

    def annotate(self, diags: Diagnostics, start: int = 0) -> None:
        """Add to each error (from index `start` on) a note for each parameter whose value
        stands inside its span, so the message names where the number came from."""
        # an error about a parameter that has no value repeats the one reported at its `param`
        diags.items[start:] = [d for d in diags.items[start:] if not d.span or not any(
            _inside(span, d.span) for span in self.broken)]
        for i in range(start, len(diags.items)):
            item = diags.items[i]
            if item.severity != "error":
                continue
            notes = [note for span, b in self.uses if item.span and _inside(span, item.span)
                     for note in b.notes()]
            fresh = [n for n in dict.fromkeys(notes) if n not in item.notes]
            if fresh:
                item = diags.items[i] = dataclasses.replace(item, notes=item.notes + tuple(fresh))
            hints = [h for span, h in self.misspelt if item.span and _inside(span, item.span)]
            if hints:  # more to the point than the check's own hint
                diags.items[i] = dataclasses.replace(item, hint=hints[0])


def parse_override(text: str) -> tuple[str, float | bool]:
    """`NAME=VALUE` of `--set` as (name, value); OverrideError says what is wrong."""
    name, equals, value = (part.strip() for part in text.partition("="))
    if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise OverrideError(f"--set takes NAME=VALUE, for example n_hidden=64; got {text!r}")
    if value in ("true", "false"):
        return name, value == "true"
    if not NUMBER.fullmatch(value):
        raise OverrideError(f"--set {name}=...: a parameter's value is a number or true/false; "
                            f"got {value!r}")
    return name, float(value)


def override_values(params: Mapping[str, object] | None) -> dict[str, float | bool]:
    """`params={...}` of nndl.compile as values the front end takes (ints and floats as floats,
    booleans kept); OverrideError for anything else."""
    values = {}
    for name, value in (params or {}).items():
        if isinstance(value, bool):
            values[str(name)] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[str(name)] = float(value)
        elif hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a NumPy scalar
            return override_values({**params, name: value.item()})
        else:
            raise OverrideError(f"parameter `{name}`: a value is a number or a bool, "
                                f"not {type(value).__name__} {value!r}")
    return values


def resolve(program: s.Program, diags: Diagnostics, overrides: Mapping[str, float | bool] = (),
            how: str = "--set") -> Resolved:
    """Replace every parameter by its value (`overrides` win over the declarations; `how` says
    in messages how they were given: "--set" or "params="); report what is wrong to `diags`."""
    overrides = override_values(overrides)
    file_params = [b for b in program.blocks if isinstance(b, s.ParamStmt)]
    networks = [b for b in program.blocks if isinstance(b, s.NetworkBlock)]
    scoped = {n.name.name: [st for st in n.statements if isinstance(st, s.ParamStmt)]
              for n in networks}
    _check_names(file_params, scoped, diags)
    _check_overrides(overrides, file_params, scoped, how, diags)
    resolver = _Resolver(overrides, how, diags)
    file_scope = resolver.evaluate(file_params, {})
    scopes = {name: resolver.evaluate(stmts, file_scope) for name, stmts in scoped.items()}
    values = {b.name: b.value for scope in [file_scope, *scopes.values()]
              for b in scope.values() if b.value is not None}
    only = networks[0].name.name if len(networks) == 1 else None
    blocks = []
    for block in program.blocks:
        if isinstance(block, s.NetworkBlock):
            statements = tuple(resolver.substitute(st, scopes[block.name.name])
                               for st in block.statements if not isinstance(st, s.ParamStmt))
            blocks.append(dataclasses.replace(block, statements=statements))
        elif isinstance(block, s.TrainBlock):
            target = block.network.name if block.network else only
            blocks.append(resolver.substitute(block, scopes.get(target, file_scope)))
        elif not isinstance(block, s.ParamStmt):
            blocks.append(block)  # neuron models: their names are their own
    return Resolved(s.Program(blocks), values, resolver.uses, resolver.misspelt,
                    resolver.broken)


def _check_names(file_params: list[s.ParamStmt], scoped: dict[str, list[s.ParamStmt]],
                 diags: Diagnostics) -> None:
    first = {p.name.name: p for p in file_params}
    for stmts in [file_params, *scoped.values()]:
        seen: dict[str, s.ParamStmt] = {}
        for stmt in stmts:
            name = stmt.name.name
            earlier = seen.get(name) or (first.get(name) if stmts is not file_params else None)
            if earlier is not None:
                diags.error("duplicate", f"parameter `{name}` is declared twice",
                            stmt.name.span, notes=[("first declared here", earlier.name.span)])
            elif name in RESERVED or name.startswith("__"):
                diags.error("reserved-name", f"`{name}` cannot name a parameter: the language "
                            "reads it as a word of its own", stmt.name.span,
                            "choose another name")
            seen.setdefault(name, stmt)


def _check_overrides(overrides: dict, file_params: list[s.ParamStmt],
                     scoped: dict[str, list[s.ParamStmt]], how: str,
                     diags: Diagnostics) -> None:
    declared = [p.name.name for p in file_params]
    declared += [p.name.name for stmts in scoped.values() for p in stmts]
    for name in overrides:
        if name not in declared:
            known = ", ".join(dict.fromkeys(declared)) or "none"
            diags.error("unknown-parameter", f"{_given(how, name, overrides[name])} sets "
                        f"parameter `{name}`, which this file does not declare", None,
                        suggest(name, declared) or f"its parameters: {known}")


def _given(how: str, name: str, value) -> str:
    if how == "--set":
        return f"`--set {name}={_show(value)}`"
    return f"`params={{{name!r}: {_show(value)}}}`"


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{int(value)}" if math.isfinite(value) and value == int(value) else f"{value:g}"


class _Resolver:
    def __init__(self, overrides: dict, how: str, diags: Diagnostics):
        self.overrides = overrides
        self.how = how
        self.diags = diags
        self.uses: list[tuple[Span, Binding]] = []
        self.misspelt: list[tuple[Span, str]] = []
        self.broken: list[Span] = []

    def evaluate(self, stmts: list[s.ParamStmt], outer: dict[str, Binding]
                 ) -> dict[str, Binding]:
        """The bindings of `outer` and of `stmts`, each value computed from those before it."""
        scope = dict(outer)
        for stmt in stmts:
            name = stmt.name.name
            if name in scope:  # declared twice: reported; the first one stands
                continue
            if name in self.overrides:
                value = self.overrides[name]
                scope[name] = Binding(name, value, stmt.name.span,
                                      _given(self.how, name, value))
                continue
            before = len(self.uses)
            value = self._value(stmt, scope)
            sources = tuple(dict.fromkeys(b for _, b in self.uses[before:]))
            del self.uses[before:]  # uses inside a `param` line are not uses in the network
            scope[name] = Binding(name, value, stmt.span, None, sources)
        return scope

    def _value(self, stmt: s.ParamStmt, scope: dict[str, Binding]) -> float | bool | None:
        expr = self.substitute(stmt.value, scope)
        left = _names(expr)
        if any(var.name in scope for var in left):  # a parameter without a value: reported
            return None
        unknown = left
        for var in unknown:
            self.diags.error("unknown-parameter", f"unknown parameter `{var.name}` in the value "
                             f"of `{stmt.name.name}`", var.span,
                             suggest(var.name, scope) or
                             "a parameter's value may use the parameters declared before it")
        if unknown:
            return None
        value = constant(expr)
        if isinstance(value, bool) or isinstance(value, float) and math.isfinite(value):
            return value
        self.diags.error("bad-parameter", f"parameter `{stmt.name.name}` must be a finite "
                         "number or true/false, computed from numbers and earlier parameters "
                         "with + - * / **", stmt.value.span)
        return None

    def substitute(self, node, scope: dict[str, Binding]):
        """`node` with each name of a parameter in `scope` replaced by its value."""
        if not scope:
            return node
        if isinstance(node, s.Var):
            binding = scope.get(node.name)
            if binding is not None and binding.value is None:  # its error is reported
                self.broken.append(node.span)
                return node
            if binding is None:
                if node.name not in RESERVED:  # where a number stands, only a parameter may
                    near = suggest(node.name, scope) or \
                        f"declare it with `param {node.name} = VALUE`"
                    self.misspelt.append((node.span, f"`{node.name}` is no parameter; {near}"))
                return node
            self.uses.append((node.span, binding))
            if isinstance(binding.value, bool):
                return s.Bool(binding.value, node.span)
            return s.Number(binding.value, _show(binding.value), node.span)
        if isinstance(node, tuple):
            return tuple(self.substitute(item, scope) for item in node)
        if not dataclasses.is_dataclass(node) or isinstance(node, (s.Ident, Span)):
            return node
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            new = self.substitute(value, scope)
            if new is not value:
                changes[f.name] = new
        return dataclasses.replace(node, **changes) if changes else node


def _names(node) -> list[s.Var]:
    """Every name left in an expression (after substitution: the unknown ones)."""
    if isinstance(node, s.Var):
        return [node]
    if isinstance(node, tuple):
        return [v for item in node for v in _names(item)]
    if not dataclasses.is_dataclass(node) or isinstance(node, (s.Ident, Span)):
        return []
    return [v for f in dataclasses.fields(node) for v in _names(getattr(node, f.name))]


def _inside(inner: Span, outer: Span) -> bool:
    return ((outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))
