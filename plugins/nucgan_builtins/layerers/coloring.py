"""``coloring``: randomised colouring of the gap graph; lossless, varied, and it copes with dense layouts."""

from __future__ import annotations

import numpy as np

from nucgan import InputError, Layerer, gap_graph
from nucgan_builtins.layerers.greedy import colour_in_order, peel_order


class ColoringLayerer(Layerer):
    """Colour masks so that conflicting ones (closer than ``gap`` px) never share a channel.

    Order: a random degeneracy order (masks with fewer than ``channels`` conflicts can always be
    placed, so they go last); colour: a random free channel, so masks spread over all channels and
    every seed gives another layering; a mask left without a channel gets one by a Kempe-chain swap.
    Up to ``attempts`` random restarts before it gives up and names the masks that did not fit.
    """

    def __init__(self, attempts: int = 20) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise InputError(f"coloring layerer: attempts must be an integer >= 1, got {attempts!r}")
        self.attempts = attempts

    def layer(self, labels: np.ndarray, channels: int = 4, gap: int = 2, seed: int | None = None) -> np.ndarray:
        graph = gap_graph(labels, gap)
        rng = np.random.default_rng(seed)
        n = len(graph)
        colour = rng.integers(0, channels, size=n)  # isolated masks: any channel
        busy = np.flatnonzero(graph.degrees() > 0)
        if busy.size:
            adj = graph.adjacency()
            best: list[int] | None = None
            for _ in range(self.attempts):
                order = peel_order(adj, channels, rng)[::-1]
                got, failed = colour_in_order(adj, order, channels, rng.random(n).tolist(), kempe=True)
                if best is None or len(failed) < len(best):
                    best = failed
                    colour[busy] = np.asarray(got)[busy]
                if not failed:
                    break
            if best:
                raise graph.unplaced_error(best, channels, note=f"{self.attempts} randomised colourings tried")
        return graph.paint(colour, channels)
