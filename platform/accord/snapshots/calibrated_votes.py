"""``--calibration ID``: pass a judge's AI votes through a stored calibration before resolution.

A calibration (``accord calibrate``, table ``calibration``) maps one judge's P(A) to
P(humans prefer A). The snapshot build applies it to the AI votes it describes: the votes of
its judge, under its constitution when it names one, and of its principle when it has one
(``""``: the judge's aggregate or ensemble vote). The ``soft`` policy and DPO's soft loss then
learn what humans would say rather than what the judge said; the ``escalate`` policy measures
confidence on the calibrated labels. Human votes and other judges' votes are left alone.

A calibration that matches no AI vote among the snapshot's pairs, or an unknown id, is refused
before anything is written. The manifest's ``calibration`` records which map was used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session


class CalibrationChoiceError(ValueError):
    """The calibration asked for cannot be applied to this snapshot."""


def apply_calibration(
    engine: Engine, votes: pd.DataFrame, calibration_id: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The votes with the calibration's judge's AI votes mapped, and the manifest record."""
    from ..audit.calibrate import calibration_map
    from ..store.crud.calibrations import get_calibration

    with Session(engine) as session:
        row = get_calibration(session, calibration_id=calibration_id)
    if row is None:
        raise CalibrationChoiceError(
            f"calibration: no calibration {calibration_id} in the store (accord calibrate list)"
        )
    hit = (votes.kind == "ai").to_numpy(bool) & (votes.judge == row.judge).to_numpy(bool)
    if row.constitution_hash:
        hit &= (votes.constitution_hash == row.constitution_hash).to_numpy(bool)
    if row.principle:
        hit &= (votes.principle == row.principle).to_numpy(bool)
    if not hit.any():
        scope = f"judge {row.judge!r}"
        if row.constitution_hash:
            scope += f", constitution {row.constitution_hash[:12]}"
        if row.principle:
            scope += f", principle {row.principle!r}"
        raise CalibrationChoiceError(
            f"calibration: calibration {calibration_id} is for {scope}, which labels none of "
            "this snapshot's pairs"
        )
    value = votes.value.to_numpy(float).copy()
    before = value[hit]
    value[hit] = calibration_map(row).apply(before)
    record = {
        "id": row.id,
        "version": row.version,
        "judge": row.judge,
        "constitution_hash": row.constitution_hash,
        "principle": row.principle,
        "method": row.method,
        "params": row.params,
        "human_label_hash": row.human_label_hash,
        "n": row.n,
        "ece_before": row.ece_before,
        "ece_after": row.ece_after,
        "brier_before": row.brier_before,
        "brier_after": row.brier_after,
        # before → after out of sample, with bootstrap intervals (the stored report's figures)
        "ece": (row.report or {}).get("ece"),
        "brier": (row.report or {}).get("brier"),
        "votes_mapped": int(hit.sum()),
        "mean_abs_change": round(float(np.mean(np.abs(value[hit] - before))), 6),
    }
    return votes.assign(value=value), record
