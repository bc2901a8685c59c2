"""Leak-free train/test split: every pair of one prompt (by normalized prompt hash) falls on
the same side, and a prompt keeps its side when data is added (hash-based, seeded).

>>> assign_split(["g1", "g1", "g2"], test_fraction=0.5, seed=0)[0] == assign_split(["g1"], test_fraction=0.5, seed=0)[0]
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def assign_split(split_groups: Sequence[str], *, test_fraction: float, seed: int = 0) -> np.ndarray:
    """'train' / 'test' per row, decided by the hash of (seed, split group) alone."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    cache: dict[str, bool] = {}
    prefix = f"{seed}:".encode()
    out = np.empty(len(split_groups), dtype=object)
    for i, g in enumerate(split_groups):
        is_test = cache.get(g)
        if is_test is None:
            h = int.from_bytes(hashlib.sha256(prefix + g.encode()).digest()[:8], "big")
            is_test = cache[g] = h / 2**64 < test_fraction
        out[i] = "test" if is_test else "train"
    return out
