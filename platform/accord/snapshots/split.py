"""Leak-free train/test split: every pair of one prompt (by normalized prompt hash) falls on
the same side, and a prompt keeps its side when data is added (hash-based, seeded).

>>> together = assign_split(["g1", "g1", "g2"], test_fraction=0.5, seed=0)
>>> alone = assign_split(["g1"], test_fraction=0.5, seed=0)
>>> together[0] == alone[0]
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import methodcaller

import numpy as np
import pandas as pd

_DIGEST = methodcaller("digest")


def assign_split(split_groups: Sequence[str], *, test_fraction: float, seed: int = 0) -> np.ndarray:
    """'train' / 'test' per row, decided by the hash of (seed, split group) alone."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    # Each distinct group is hashed once; rows take their group's side. The first 8 bytes of
    # each digest, big-endian, as uint64 (exact); the float division is the same correctly
    # rounded h / 2**64 as in Python.
    codes, groups = pd.factorize(pd.Series(split_groups, dtype=object), sort=False)
    prefix = f"{seed}:".encode()
    digests = b"".join(
        map(_DIGEST, map(hashlib.sha256, map(prefix.__add__, map(str.encode, groups.tolist()))))
    )
    first8 = (
        np.frombuffer(digests, dtype=">u8").reshape(-1, 4)[:, 0]
        if digests
        else np.zeros(0, np.uint64)
    )
    is_test = first8.astype(np.float64) / 2.0**64 < test_fraction
    return np.where(is_test[codes], "test", "train").astype(object)
