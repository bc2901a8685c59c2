"""The audit's reliability diagram before and after: each judge's newest stored calibration.

For every judge in the audit's calibration section, the newest calibration stored for it
(``accord calibrate``; the judge's aggregate label, any constitution) is attached as
``stored_calibration``: id, version, method, ECE and Brier before → after (out of sample, by
cross-fitting) and the reliability curve after (the stored map applied to the pairs it was
fitted on). The reliability diagram draws it dashed beside the judge's raw curve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session


def attach_stored_calibrations(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (the audit's calibration section) with ``stored_calibration`` where one exists."""
    from ..store.crud.calibrations import list_calibrations

    if not rows:
        return rows
    with Session(engine) as session:
        stored = [c for c in list_calibrations(session) if not c.principle]
    newest = {}
    for c in sorted(stored, key=lambda c: (c.created_at, c.id)):
        newest[c.judge] = c
    out = []
    for row in rows:
        c = newest.get(row["judge"])
        if c is None:
            out.append(row)
            continue
        after = ((c.report or {}).get("reliability") or {}).get("after")
        out.append(
            {
                **row,
                "stored_calibration": {
                    "id": c.id,
                    "version": c.version,
                    "method": c.method,
                    "n": c.n,
                    "ece_before": c.ece_before,
                    "ece_after": c.ece_after,
                    "brier_before": c.brier_before,
                    "brier_after": c.brier_after,
                    "curve_after": after,
                },
            }
        )
    return out
