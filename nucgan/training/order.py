"""Which samples each step trains on: a seeded, resumable, rank-sharded stream of shuffled epochs."""

from __future__ import annotations

from typing import Iterator

import numpy as np


class StepBatches:
    """Batch index lists for steps ``start..stop-1`` of one rank.

    The stream is the concatenation of epochs, each a permutation of ``range(n)`` drawn from
    ``(seed, epoch)``; step ``s`` of rank ``r`` takes the ``B`` indices at position
    ``(s * world + r) * B``. It depends on nothing but its arguments, so a resumed run sees exactly
    the batches the uninterrupted run would have seen, and ranks never share a sample in a step.
    """

    def __init__(self, n: int, batch: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1) -> None:
        if n < 1:
            raise ValueError("the dataset is empty")
        self.n, self.batch, self.seed = n, batch, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world
        self._epoch, self._perm = -1, np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._perm

    def indices(self, step: int) -> list[int]:
        """The sample indices this rank trains on at ``step``."""
        first = (step * self.world + self.rank) * self.batch
        out = []
        for pos in range(first, first + self.batch):
            out.append(int(self._permutation(pos // self.n)[pos % self.n]))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield self.indices(step)
