"""The AST built as the LALR parser reduces each rule, instead of from a finished parse tree.

Building Lark's tree (with every node's `meta`), then walking it with `ToAst`, took two thirds
of a large file's parse. `callbacks` gives the parser one function per grammar rule that does
what Lark's tree builder does for that rule — the same children kept, `_rule`s spliced into
their parent, `?rule`s with one child replaced by it, the same positions (propagate_positions)
— then hands the children and the span straight to the `ToAst` method of that rule.

Each rule's result stays on the parser's stack as a `Node` (its AST value, the region of text
it covers, and the height its parse tree would have had), so the nesting guard of
`nndl.frontend.parser` still sees how deep the tree went.
"""

from __future__ import annotations

from operator import itemgetter

from lark import Token, Tree
from lark.visitors import _vargs_meta

from nndl.frontend.tree_to_ast import ToAst


class Node:
    """A reduced rule: its value and the text it covers (Lark's `meta`: `container_*` where a
    `?rule` widened it), or the children of a `_rule` waiting to be spliced into its parent."""

    __slots__ = ("value", "line", "column", "end_line", "end_column", "empty", "height")

    def __init__(self, value, first, last, height):
        self.value = value
        self.height = height  # of the parse tree: 0 for a tree without subtrees; -1 no tree
        self.empty = first is None
        if first is not None:
            self.line, self.column = first.line, first.column
            self.end_line, self.end_column = last.end_line, last.end_column


def _first(children):
    """Where Lark's propagate_positions starts a node: at its first child that has a place."""
    for c in children:
        if type(c) is Node:
            if not c.empty:
                return c
        elif isinstance(c, Token):
            return c
    return None


def _ends(children) -> tuple:
    """(_first(children), its last like it), quickly where they are tokens (most rules)."""
    first, last = children[0] if children else None, children[-1] if children else None
    if type(first) is not Token:
        first = _first(children)
        if first is None:
            return None, None
    if type(last) is not Token:
        last = _first(reversed(children))
    return first, last


def callbacks(parser) -> dict:
    """The parser's callbacks with every rule's replaced by one that builds the AST."""
    to_ast = ToAst()
    rules = set(parser.rules)
    # keyed by the parse table's own Rule objects: a lookup by identity skips Rule.__eq__
    table = {key: f for key, f in parser._callbacks.items() if key not in rules}
    table.update((rule, _rule_callback(rule, to_ast)) for rule in parser.rules)
    return table


def _rule_callback(rule, to_ast: ToAst):
    keep = [(i, not sym.is_term and sym.name.startswith("_"))
            for i, sym in enumerate(rule.expansion)
            if rule.options.keep_all_tokens or not (sym.is_term and sym.filter_out)]
    name = rule.alias or rule.options.template_source or rule.origin.name
    if rule.origin.name.startswith("_"):  # its parent splices it (lark's _should_expand)
        return _splicer(keep)
    single = rule.options.expand1 and not rule.alias
    if single and len(rule.expansion) == 1 and keep == [(0, False)]:
        return itemgetter(0)  # `?a: b` gives b itself, its place unchanged (it is the child's)
    build = _builder(name, to_ast)
    spliced = any(expand for _, expand in keep)

    def reduce(children):
        kept = []
        for i, expand in keep:
            if expand:
                if kept:
                    kept += children[i].value
                else:  # a left-recursive list grows in place, as in Lark's ChildFilterLALR
                    kept = children[i].value
            else:
                kept.append(children[i])
        first = _first(children)
        last = _first(reversed(children)) if first is not None else None
        if single and len(kept) == 1:
            only = kept[0]
            if type(only) is Node and first is not None:  # a `?rule` widens its child's place
                only.line, only.column = first.line, first.column
                only.end_line, only.end_column = last.end_line, last.end_column
                only.empty = False
            return only
        height = 0
        values = []
        for c in kept:
            if type(c) is Node:
                if c.height >= height:
                    height = c.height + 1
                values.append(c.value)
            else:
                values.append(c)
        node = Node(None, first, last, height)
        node.value = build(node, values)
        return node

    if not spliced and not single:
        return _plain(keep, build)
    return reduce


def _plain(keep, build):
    """The callback of a rule with nothing to splice or unwrap (most of them). Its loop is the
    end of `reduce` above written again: the two sharing a helper cost 0.3-0.4 s of the 9 s of
    `nndlc check` on a 100 000-group chain (issue 15's goal is 10 s)."""
    indices = [i for i, _ in keep]

    def reduce(children):
        first, last = _ends(children)
        height = 0
        values = []
        for i in indices:
            c = children[i]
            if type(c) is Node:
                if c.height >= height:
                    height = c.height + 1
                values.append(c.value)
            else:
                values.append(c)
        node = Node(None, first, last, height)
        node.value = build(node, values)
        return node

    return reduce



def _splicer(keep):
    """A `_rule`'s callback: its kept children, for the parent to take in their place."""

    def reduce(children):
        kept = []
        height = -1  # the highest of the kept children (a spliced list's own, kept with it)
        for i, expand in keep:
            c = children[i]
            if expand:
                if kept:
                    kept += c.value
                else:  # a left-recursive list grows in place, as in Lark's ChildFilterLALR
                    kept = c.value
            else:
                kept.append(c)
            if type(c) is Node and c.height > height:
                height = c.height
        first = _first(children)
        last = _first(reversed(children)) if first is not None else None
        return Node(kept, first, last, height)

    return reduce


def _builder(name: str, to_ast: ToAst):
    """`build(meta, children)`: the ToAst method for rule `name` (as Transformer calls it)."""
    method = getattr(to_ast, name, None)
    if method is None:
        return lambda meta, children: Tree(name, children, meta)
    wrapper = getattr(method, "visit_wrapper", None)
    if wrapper is _vargs_meta:
        return method.base_func
    return lambda meta, children: wrapper(method, name, children, meta)
