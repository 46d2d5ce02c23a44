"""``first-fit``: the paper's layering, each mask on the first channel where it fits, in random order."""

from __future__ import annotations

import numpy as np

from nucgan import InputError, Layerer, gap_graph
from nucgan_builtins.layerers.greedy import colour_in_order


class FirstFitLayerer(Layerer):
    """Shuffle the masks and put each on the lowest channel holding no mask within ``gap`` px.

    As in the paper, low channels fill first and each shuffle gives another layering. Unlike the
    paper's script it never drops a mask: when one fits nowhere it reshuffles (up to ``attempts``
    times), then raises naming the masks that did not fit (the ``coloring`` layerer copes better).
    """

    def __init__(self, attempts: int = 100) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise InputError(f"first-fit layerer: attempts must be an integer >= 1, got {attempts!r}")
        self.attempts = attempts

    def layer(self, labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int | None = None) -> np.ndarray:
        graph = gap_graph(labels, gap)
        rng = np.random.default_rng(seed)
        colour = np.zeros(len(graph), dtype=np.int64)  # an isolated mask always fits on the first channel
        busy = np.flatnonzero(graph.degrees() > 0)
        if busy.size:
            adj = graph.adjacency()
            best: list[int] | None = None
            for _ in range(self.attempts):
                order = rng.permutation(busy).tolist()
                got, failed = colour_in_order(adj, order, channels, None, kempe=False)
                if best is None or len(failed) < len(best):
                    best = failed
                    colour[busy] = np.asarray(got)[busy]
                if not failed:
                    break
            if best:
                raise graph.unplaced_error(best, channels, note=f"first-fit tried {self.attempts} random orders "
                                           "(the 'coloring' method may still find a layering)")
        return graph.paint(colour, channels)
