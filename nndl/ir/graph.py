"""Topological order and cycle finding: one implementation that every phase and backend uses."""

from __future__ import annotations

import heapq


def topological_order(nodes: list, edges: list[tuple]) -> tuple[list, list | None]:
    """Order `nodes` so every edge (a, b) has a before b; ties keep the order of `nodes`.

    Returns (order, None), or (partial order, cycle) where the cycle is a list of nodes
    [n0, n1, ..., n0] along edges, when there is one.
    """
    rank = {n: i for i, n in enumerate(nodes)}
    successors = {n: [] for n in nodes}
    indegree = {n: 0 for n in nodes}
    for a, b in edges:
        successors[a].append(b)
        indegree[b] += 1
    ready = [rank[n] for n in nodes if indegree[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        n = nodes[heapq.heappop(ready)]
        order.append(n)
        for m in successors[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(ready, rank[m])
    if len(order) == len(nodes):
        return order, None
    return order, find_cycle([n for n in nodes if indegree[n] > 0], edges)


def find_cycle(leftover: list, edges: list[tuple]) -> list:
    """A cycle among the nodes Kahn's algorithm could not order (so one exists).

    Each leftover node has a leftover predecessor, so walking predecessors never stops and must
    revisit a node; the walk between the two visits, reversed, is a cycle.
    """
    inside = set(leftover)
    predecessor = {}
    for a, b in edges:
        if a in inside and b in inside and b not in predecessor:
            predecessor[b] = a
    node, seen, walk = leftover[0], {}, []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = predecessor[node]
    cycle = walk[seen[node]:][::-1]
    return cycle + [cycle[0]]


def reaching(targets: list, edges: list[tuple]) -> set:
    """Every node from which some path along `edges` leads to one of `targets` (the targets
    included): one breadth-first walk backwards, linear in the edges."""
    predecessors: dict = {}
    for a, b in edges:
        predecessors.setdefault(b, []).append(a)
    found, frontier = set(targets), list(targets)
    while frontier:
        node = frontier.pop()
        for a in predecessors.get(node, ()):
            if a not in found:
                found.add(a)
                frontier.append(a)
    return found


def components(nodes: list, edges: list[tuple]) -> list[list]:
    """Strongly connected components in topological order (ties keep the order of `nodes`);
    each component lists its nodes in the order of `nodes`."""
    rank = {n: i for i, n in enumerate(nodes)}
    successors = {n: [] for n in nodes}
    for a, b in edges:
        successors[a].append(b)
    component_of = _tarjan(nodes, successors)
    members: dict[int, list] = {}
    for n in nodes:
        members.setdefault(component_of[n], []).append(n)
    ids = sorted(members, key=lambda c: rank[members[c][0]])
    position = {c: i for i, c in enumerate(ids)}
    links = {(component_of[a], component_of[b]) for a, b in edges
             if component_of[a] != component_of[b]}
    order, _ = topological_order(ids, sorted(links, key=lambda ab: (position[ab[0]],
                                                                    position[ab[1]])))
    return [members[c] for c in order]


def _tarjan(nodes: list, successors: dict) -> dict:
    """Component id of every node (Tarjan's algorithm, iterative so deep graphs cannot overflow)."""
    index, low, on_stack, stack, component = {}, {}, set(), [], {}
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = index[node]
                        if member == node:
                            break
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(successors[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return component
