"""The vectorised build keeps the definitions snapshots were made with: split side, example
hash and snapshot digest equal their one-row-at-a-time forms."""

from __future__ import annotations

import hashlib
import random

import pytest

from accord.hashing import canonical_json, sha256_hex
from accord.snapshots.build import example_hash, example_hashes, snapshot_hash
from accord.snapshots.split import assign_split


def _side_one_at_a_time(group: str, test_fraction: float, seed: int) -> str:
    h = int.from_bytes(hashlib.sha256(f"{seed}:".encode() + group.encode()).digest()[:8], "big")
    return "test" if h / 2**64 < test_fraction else "train"


@pytest.mark.parametrize("test_fraction", [0.0, 0.1, 0.5, 0.999])
@pytest.mark.parametrize("seed", [0, 7])
def test_split_equals_the_per_group_definition(test_fraction, seed):
    rng = random.Random(seed)
    groups = [f"{rng.getrandbits(64):016x}ü" for _ in range(3000)]
    rows = groups + groups[:500]  # repeated groups take one side
    got = assign_split(rows, test_fraction=test_fraction, seed=seed)
    assert got.tolist() == [_side_one_at_a_time(g, test_fraction, seed) for g in rows]
    assert len(assign_split([], test_fraction=test_fraction, seed=seed)) == 0


def test_example_hashes_equal_example_hash():
    rng = random.Random(3)
    rows = [(sha256_hex(str(i)), sha256_hex(f"c{i}"), sha256_hex(f"r{i}"),
             round(rng.random(), 6), rng.random() < 0.3, rng.choice(["train", "test"])) for i in range(500)]
    rows += [("p", "c", "r", 1.0, False, "train"), ("p", "c", "r", 0.5, True, "test"),
             ("p", "c", "r", 0.6666666666666666, False, "train"), ("p", "c", "r", 1e-7, False, "test")]
    assert example_hashes(*map(list, zip(*rows))) == [example_hash(*r) for r in rows]


def test_snapshot_digest_equals_one_update_per_example():
    hashes = [sha256_hex(str(i)) for i in range(100)]
    params = {"seed": 0, "test_fraction": 0.1, "source": None}
    h = hashlib.sha256(f"soft\n{canonical_json(params)}\n".encode())
    for e in hashes:
        h.update(e.encode())
    assert snapshot_hash("soft", params, hashes) == h.hexdigest()
