"""Colouring loops shared by the built-in layerers; pure Python over a GapGraph's neighbour lists."""

from __future__ import annotations

import heapq
from typing import Any, Callable

import numpy as np

from nucgan.plugin_api import InputError


def peel_order(adj: list[list[int]], k: int, rng: np.random.Generator) -> list[int]:
    """Vertices in a randomised removal order: any vertex of degree < k first, else one of least degree.

    Colouring in the reverse of this order gives every vertex removed while its degree was < k a
    free colour for sure (fewer than k of its neighbours are coloured before it); only the k-core,
    removed by least degree, can run out of colours.
    """
    n = len(adj)
    deg = [len(a) for a in adj]
    removed = [False] * n
    tie = rng.random(n).tolist()
    low = [v for v in rng.permutation(n).tolist() if deg[v] < k]
    core = [(deg[v], tie[v], v) for v in range(n) if deg[v] >= k]
    heapq.heapify(core)
    order: list[int] = []
    while len(order) < n:
        if low:
            v = low.pop()
            if removed[v]:
                continue
        else:
            d, _, v = heapq.heappop(core)
            if removed[v] or d != deg[v]:
                continue
        removed[v] = True
        order.append(v)
        for u in adj[v]:
            if not removed[u]:
                deg[u] -= 1
                if deg[u] == k - 1:
                    low.append(u)
                elif deg[u] >= k:
                    heapq.heappush(core, (deg[u], tie[u], u))
    return order


def colour_in_order(adj: list[list[int]], order: list[int], k: int, pick: list[float] | None,
                    kempe: bool) -> tuple[list[int], list[int]]:
    """Greedy colouring in ``order``: a random free colour (``pick``) or the lowest one (``pick=None``).

    A vertex with no free colour gets one by a Kempe-chain swap when ``kempe`` (the swap keeps the
    colouring proper), otherwise stays uncoloured (-1). Returns (colours, uncoloured vertices).
    """
    colour = [-1] * len(adj)
    full = (1 << k) - 1
    failed: list[int] = []
    for v in order:
        used = 0
        for u in adj[v]:
            c = colour[u]
            if c >= 0:
                used |= 1 << c
        if used != full:
            free = [c for c in range(k) if not used >> c & 1]
            colour[v] = free[int(pick[v] * len(free))] if pick is not None else free[0]
        elif kempe and _kempe(adj, colour, v, k):
            continue
        else:
            failed.append(v)
    return colour, failed


def _kempe(adj: list[list[int]], colour: list[int], v: int, k: int) -> bool:
    """Free a colour for ``v`` by swapping colours a <-> b on the (a, b) chains through its a-neighbours."""
    for a in range(k):
        start = [u for u in adj[v] if colour[u] == a]
        for b in range(k):
            if b == a:
                continue
            blocked = {u for u in adj[v] if colour[u] == b}
            seen = set(start)
            stack = list(start)
            ok = True
            while stack and ok:
                x = stack.pop()
                for y in adj[x]:
                    if y not in seen and colour[y] in (a, b):
                        if y in blocked:
                            ok = False
                            break
                        seen.add(y)
                        stack.append(y)
            if ok:
                for x in seen:
                    colour[x] = b if colour[x] == a else a
                colour[v] = a
                return True
    return False



def check_attempts(method: str, attempts: object) -> int:
    """``attempts`` as an int >= 1, or InputError naming the layering method."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InputError(f"{method} layerer: attempts must be an integer >= 1, got {attempts!r}")
    return attempts


def best_of(graph: Any, colour: np.ndarray, channels: int, attempts: int,
            try_once: Callable[[list[list[int]], np.ndarray], tuple[list[int], list[int]]], note: str) -> np.ndarray:
    """Bool layers from the first of ``attempts`` colourings that places every mask.

    ``colour`` holds the channels of isolated masks; ``try_once(adj, busy) -> (colours, failed)``
    colours the masks with conflicts. If every attempt leaves masks without a channel, raise the
    graph's error naming those of the attempt that failed fewest.
    """
    busy = np.flatnonzero(graph.degrees() > 0)
    if busy.size:
        adj = graph.adjacency()
        best: list[int] | None = None
        for _ in range(attempts):
            got, failed = try_once(adj, busy)
            if best is None or len(failed) < len(best):
                best = failed
                colour[busy] = np.asarray(got)[busy]
            if not failed:
                break
        if best:
            raise graph.unplaced_error(best, channels, note=note)
    return graph.paint(colour, channels)
