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
