"""What changed between two snapshots: examples added, removed, flipped, re-weighted."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.models import SnapshotExample
from .build import SnapshotError, get_snapshot


def _examples(engine: Engine, snapshot_id: int) -> pd.DataFrame:
    e = SnapshotExample.__table__
    q = select(e.c.pair_id, e.c.chosen_id, e.c.prob, e.c.split, e.c.tie).where(
        e.c.snapshot_id == snapshot_id
    )
    with engine.connect() as conn:
        return pd.read_sql(q, conn).set_index("pair_id")


def diff_snapshots(engine: Engine, a: str, b: str, *, sample: int = 10) -> dict[str, Any]:
    from .demonstrations import is_demonstrations

    sa, sb = get_snapshot(engine, a), get_snapshot(engine, b)
    for snap in (sa, sb):
        if is_demonstrations(snap):
            raise SnapshotError(
                f"snapshot {snap.name!r} holds demonstrations; diff compares preference snapshots"
            )
    ea, eb = _examples(engine, sa.id), _examples(engine, sb.id)
    added = eb.index.difference(ea.index)
    removed = ea.index.difference(eb.index)
    both = ea.index.intersection(eb.index)
    flipped = both[(ea.loc[both, "chosen_id"] != eb.loc[both, "chosen_id"]).to_numpy()]
    same_side = both.difference(flipped)
    prob_changed = same_side[
        ((ea.loc[same_side, "prob"] - eb.loc[same_side, "prob"]).abs() > 1e-6).to_numpy()
    ]
    split_changed = both[(ea.loc[both, "split"] != eb.loc[both, "split"]).to_numpy()]
    return {
        "a": {"name": a, "content_hash": sa.content_hash, "examples": len(ea)},
        "b": {"name": b, "content_hash": sb.content_hash, "examples": len(eb)},
        "identical": sa.content_hash == sb.content_hash,
        "added": len(added),
        "removed": len(removed),
        "flipped": len(flipped),
        "prob_changed": len(prob_changed),
        "split_changed": len(split_changed),
        "unchanged": len(both) - len(flipped) - len(prob_changed),
        "sample": {
            "added": [int(x) for x in added[:sample]],
            "removed": [int(x) for x in removed[:sample]],
            "flipped": [int(x) for x in flipped[:sample]],
        },
    }
