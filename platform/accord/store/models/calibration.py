"""Calibrations: a fitted map from an AI judge's soft label to P(humans prefer A).

One row per fit, versioned per (judge, constitution, principle, method): fitting again on the
same human labels returns the same row (``key_hash`` covers every input), fitting on a changed
label set makes the next version. ``params`` rebuild the map
(``accord.audit.calibration_fit.CalibrationMap.from_dict``); ``report`` holds ECE and Brier
before → after (out-of-sample by cross-fitting) with their bootstrap intervals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ._base import hash_field, json_field, utcnow


class CalibrationBase(SQLModel):
    judge: str = Field(max_length=300, index=True, description="Judge model id.")
    constitution_hash: str = Field(
        default="", max_length=64, description="Constitution version ('' = any)."
    )
    principle: str = Field(
        default="", max_length=100, description="Principle id; '' = the judge's aggregate label."
    )
    method: str = Field(max_length=16, description="temperature | platt | isotonic")
    version: int = Field(default=1, description="1, 2, … per judge/constitution/principle/method.")
    human_label_hash: str = Field(
        max_length=64, description="sha256 of the (pair, human outcome) set fitted on."
    )
    n: int = Field(description="Pairs with both an AI soft label and a human label.")
    ece_before: float
    ece_after: float
    brier_before: float
    brier_after: float


class Calibration(CalibrationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = hash_field(description="sha256 of every input of the fit.")
    params: dict[str, Any] = json_field()
    report: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)


class CalibrationPublic(CalibrationBase):
    id: int
    params: dict[str, Any]
    report: dict[str, Any]
    created_at: datetime
