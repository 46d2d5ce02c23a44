"""Which samples each step trains on: a seeded, resumable, rank-sharded stream of shuffled epochs."""

from __future__ import annotations

from typing import Iterator

import numpy as np

#: up to this many samples an epoch is a numpy permutation (held in memory, 8 bytes a sample); above
#: it, a keyed bijection computes each position on demand, so a 300-million-sample folder costs nothing
EXPLICIT_MAX = 1 << 24


class KeyedPermutation:
    """A pseudo-random permutation of ``range(n)`` computed per position: a 4-round Feistel network on
    the smallest even power of two >= n, with cycle-walking back into range (memory O(1))."""

    ROUNDS = 4

    def __init__(self, n: int, key: tuple[int, ...]) -> None:
        self.n = n
        bits = max(2, int(n - 1).bit_length())
        bits += bits % 2
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        self.keys = [int(k) for k in np.random.default_rng(list(key)).integers(0, 1 << 62, size=self.ROUNDS)]

    def _round(self, value: int, key: int) -> int:
        x = (value * 0x9E3779B97F4A7C15 + key) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 32
        return x & self.mask

    def _encrypt(self, value: int) -> int:
        left, right = value >> self.half, value & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self.half) | right

    def __getitem__(self, position: int) -> int:
        value = self._encrypt(position)
        while value >= self.n:  # cycle-walking: stays a bijection of range(n)
            value = self._encrypt(value)
        return value


class StepBatches:
    """Batch index lists for steps ``start..stop-1`` of one rank.

    The stream is the concatenation of epochs, each a permutation of ``range(n)`` drawn from
    ``(seed, epoch)``; step ``s`` of rank ``r`` takes the ``B`` indices at position
    ``(s * world + r) * B``. It depends on nothing but its arguments, so a resumed run sees exactly
    the batches the uninterrupted run would have seen, and ranks never share a sample in a step.
    Epochs of more than ``EXPLICIT_MAX`` samples use :class:`KeyedPermutation` (no array of n).
    """

    def __init__(self, n: int, batch: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1) -> None:
        if n < 1:
            raise ValueError("the dataset is empty")
        self.n, self.batch, self.seed = n, batch, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world
        self._epoch, self._perm = -1, np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def _permutation(self, epoch: int) -> "np.ndarray | KeyedPermutation":
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = (np.random.default_rng([self.seed, epoch]).permutation(self.n) if self.n <= EXPLICIT_MAX
                          else KeyedPermutation(self.n, (self.seed, epoch)))
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
