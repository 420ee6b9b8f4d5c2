"""Traces computed lazily at events (Brian2's `(event-driven)`), decided once, in the IR.

An `every tick` statement `x = x * c` of a rule's state `x`, with `c` made of numbers and the
rule's parameters alone (so the same factor every tick), and `x` read by no other `every tick`
statement, only changes `x` between the events that read it. Instead of running it for every
synapse each tick, the event blocks start with `x = x * c ** ELAPSED`: the ticks since the
synapse's states were last brought up to date (at its last event, or -1 before the first tick),
so they see the value the statement would have made — to rounding: c**k instead of k products.
An event that comes after another in the same tick sees ELAPSED = 0 (c**0 is exactly 1).

`lazy_states` finds those states (the front end keeps them in PlasticityRule.lazy); `run_block`
gives every backend the statements it runs for an event.
"""

from __future__ import annotations

from nndl.ir import expr as e

ELAPSED = "ticks.elapsed"  # a name no rule can write: the one dotted names are pre.X and post.X


def lazy_states(params, states, every, events) -> tuple[str, ...]:
    """The states whose `every tick` statement may run at events instead (see the module);
    `every` and each of `events` are (target, expression dict) statements."""
    if not any(events):
        return ()
    nodes = [(target, e.from_dict(value)) for target, value in every]
    found = []
    for target, node in nodes:
        if target not in states or sum(t == target for t, _ in nodes) > 1:
            continue
        factor = _factor(target, node)
        if factor is None or e.draws(factor) or not e.variables(factor) <= set(params):
            continue
        if any(target in e.variables(other) for t, other in nodes if other is not node):
            continue
        found.append(target)
    return tuple(found)


def _factor(target: str, node: e.Expr) -> e.Expr | None:
    """c where the statement is `target = target * c` or `target = c * target`."""
    if isinstance(node, e.Binary) and node.op == "*":
        if node.left == e.Var(target) and target not in e.variables(node.right):
            return node.right
        if node.right == e.Var(target) and target not in e.variables(node.left):
            return node.left
    return None


def run_block(rule, event: str) -> tuple[tuple[str, dict], ...]:
    """The statements a backend runs for `event` of the rule: `every` without the lazy ones;
    an event block (where the rule has one) after the lazy ones' catching up."""
    block, lazy = rule.block(event), rule.lazy
    if not lazy:
        return block
    statements = dict(rule.every)
    if event == "every":
        return tuple((t, v) for t, v in block if t not in lazy)
    if not block:
        return block
    catch_up = tuple((x, e.to_dict(e.Binary("*", e.Var(x), e.Binary(
        "**", _factor(x, e.from_dict(statements[x])), e.Var(ELAPSED))))) for x in lazy)
    return catch_up + block


def factor_text(rule, state: str) -> str:
    """The per-tick factor of a lazy state, as NNDL source (for listings)."""
    return e.render(_factor(state, e.from_dict(dict(rule.every)[state])))
