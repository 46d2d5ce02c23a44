"""``coloring``: randomised colouring of the gap graph; lossless, varied, and it copes with dense layouts."""

from __future__ import annotations

import numpy as np

from nucgan.plugin_api import Layerer, gap_graph
from nucgan_builtins.layerers.greedy import best_of, check_attempts, colour_in_order, peel_order


class ColoringLayerer(Layerer):
    """Colour masks so that conflicting ones (closer than ``gap`` px) never share a channel.

    Order: a random degeneracy order (masks with fewer than ``channels`` conflicts can always be
    placed, so they go last); colour: a random free channel, so masks spread over all channels and
    every seed gives another layering; a mask left without a channel gets one by a Kempe-chain swap.
    Up to ``attempts`` random restarts before it gives up and names the masks that did not fit.
    """

    def __init__(self, attempts: int = 20) -> None:
        self.attempts = check_attempts("coloring", attempts)

    def layer(self, labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int | None = None) -> np.ndarray:
        graph = gap_graph(labels, gap)
        rng = np.random.default_rng(seed)
        n = len(graph)

        def try_once(adj: list[list[int]], busy: np.ndarray) -> tuple[list[int], list[int]]:
            order = peel_order(adj, channels, rng)[::-1]
            return colour_in_order(adj, order, channels, rng.random(n).tolist(), kempe=True)

        colour = rng.integers(0, channels, size=n)  # isolated masks: any channel
        return best_of(graph, colour, channels, self.attempts, try_once,
                       note=f"{self.attempts} randomised colourings tried")
