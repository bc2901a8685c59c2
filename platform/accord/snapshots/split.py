"""Leak-free train/test split: every pair of one prompt (by normalized prompt hash) falls on
the same side, and a prompt keeps its side when data is added (hash-based, seeded).

>>> assign_split(["g1", "g1", "g2"], test_fraction=0.5, seed=0)[0] == assign_split(["g1"], test_fraction=0.5, seed=0)[0]
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd


def assign_split(split_groups: Sequence[str], *, test_fraction: float, seed: int = 0) -> np.ndarray:
    """'train' / 'test' per row, decided by the hash of (seed, split group) alone."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    # Each distinct group is hashed once; rows take their group's side.
    codes, groups = pd.factorize(pd.Series(split_groups, dtype=object), sort=False)
    prefix = f"{seed}:".encode()
    sha = hashlib.sha256
    is_test = np.fromiter(
        (int.from_bytes(sha(prefix + g.encode()).digest()[:8], "big") / 2**64 < test_fraction
         for g in groups.tolist()), dtype=bool, count=len(groups))
    return np.where(is_test[codes], "test", "train").astype(object)
