"""``first-fit``: the paper's layering, each mask on the first channel where it fits, in random order."""

from __future__ import annotations

import numpy as np

from nucgan.plugin_api import Layerer, gap_graph
from nucgan_builtins.layerers.greedy import best_of, check_attempts, colour_in_order


class FirstFitLayerer(Layerer):
    """Shuffle the masks and put each on the lowest channel holding no mask within ``gap`` px.

    As in the paper, low channels fill first and each shuffle gives another layering. Unlike the
    paper's script it never drops a mask: when one fits nowhere it reshuffles (up to ``attempts``
    times), then raises naming the masks that did not fit (the ``coloring`` layerer copes better).
    """

    def __init__(self, attempts: int = 100) -> None:
        self.attempts = check_attempts("first-fit", attempts)

    def layer(self, labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int | None = None) -> np.ndarray:
        graph = gap_graph(labels, gap)
        rng = np.random.default_rng(seed)

        def try_once(adj: list[list[int]], busy: np.ndarray) -> tuple[list[int], list[int]]:
            return colour_in_order(adj, rng.permutation(busy).tolist(), channels, None, kempe=False)

        colour = np.zeros(len(graph), dtype=np.int64)  # an isolated mask always fits on the first channel
        return best_of(graph, colour, channels, self.attempts, try_once,
                       note=f"first-fit tried {self.attempts} random orders (the 'coloring' method may still "
                            "find a layering)")
