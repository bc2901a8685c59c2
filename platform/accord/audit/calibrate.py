"""Fitting and storing a judge's calibration against the human labels in the store.

``calibrate_judge`` reads the pairs with both the judge's soft label and a human outcome,
fits the map (``accord.audit.calibration_fit``), reports ECE and Brier before → after out of
sample (cross-fitting) with bootstrap intervals, and stores it as the next version of that
judge/constitution/principle/method. The same inputs give the same row back (its key covers
the human label set, the AI labels, the method and the fitting settings), so reruns are
idempotent. The CLI (``accord calibrate``), the recipe step and the REST API call this.

>>> from accord.store.db import open_store
>>> engine = open_store("sqlite://")
>>> calibrate_judge(engine, judge="no-such-judge")
Traceback (most recent call last):
...
accord.audit.calibration_data.CalibrationDataError: no AI soft labels for judge 'no-such-judge', ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from accord.audit.calibration_data import (
    CalibrationDataError,
    JudgeSelection,
    LabelledPairs,
    load_labelled_pairs,
    resolve_constitution,
)
from accord.audit.calibration_fit import METHODS, CalibrationMap, calibration_report
from accord.hashing import content_hash
from accord.store.crud import calibrations as crud
from accord.store.models import Calibration

MIN_PAIRS = 20


@dataclass
class CalibrationOutcome:
    calibration: Calibration
    created: bool


def _key(data: LabelledPairs, method: str, folds: int, seed: int, n_resamples: int) -> str:
    keep = data.labelled
    ai = sorted(
        zip(
            (k for k, m in zip(data.pair_keys, keep, strict=True) if m),
            np.round(data.prob[keep], 12).tolist(),
            strict=True,
        )
    )
    sel = data.selection
    return content_hash(
        "calibration-v1",
        sel.judge,
        sel.constitution_hash,
        sel.principle,
        method,
        data.human_label_hash(),
        ai,
        folds,
        seed,
        n_resamples,
    )


def calibrate_judge(
    engine: Engine,
    *,
    judge: str,
    constitution: str | None = None,
    principle: str = "",
    method: str = "temperature",
    folds: int = 5,
    seed: int = 0,
    n_resamples: int = 1000,
) -> CalibrationOutcome:
    """Fit, report and store the calibration of ``judge`` (see the module docstring)."""
    if method not in METHODS:
        raise CalibrationDataError(f"unknown method {method!r}; use {', '.join(METHODS)}")
    selection = JudgeSelection(
        judge=judge,
        constitution_hash=resolve_constitution(engine, constitution),
        principle=principle or "",
    )
    data = load_labelled_pairs(engine, selection)
    keep = data.labelled
    if keep.sum() < max(MIN_PAIRS, 2 * folds):
        raise CalibrationDataError(
            f"{selection.describe()}: {int(keep.sum())} pairs carry both its soft label and a "
            f"human label; calibration needs at least {max(MIN_PAIRS, 2 * folds)} "
            "(collect human labels on its pairs: accord argilla push)"
        )
    key = _key(data, method, folds, seed, n_resamples)
    with Session(engine) as session:
        existing = crud.get_calibration_by_key(session, key_hash=key)
        if existing is not None:
            return CalibrationOutcome(existing, created=False)
        report = calibration_report(
            data.prob[keep],
            data.outcome[keep],
            method=method,
            folds=folds,
            n_resamples=n_resamples,
            seed=seed,
        )
        report["reliability"] = _reliability(data, report)
        row = crud.create_calibration(
            session,
            key_hash=key,
            judge=judge,
            constitution_hash=selection.constitution_hash,
            principle=selection.principle,
            method=method,
            human_label_hash=data.human_label_hash(),
            n=int(keep.sum()),
            params=report["map"]["params"],
            report=report,
        )
        session.commit()
        session.refresh(row)
        return CalibrationOutcome(row, created=True)


def _reliability(data: LabelledPairs, report: dict) -> dict:
    """Reliability curves before and after (after: the stored map applied to every pair)."""
    from accord.audit.calibration import reliability_curve

    keep = data.labelled
    y, p = data.outcome[keep], data.prob[keep]
    after = CalibrationMap.from_dict(report["map"]).apply(p)
    return {
        "before": reliability_curve(y, p).to_dict(),
        "after": reliability_curve(y, after).to_dict(),
    }


def calibration_map(calibration: Calibration) -> CalibrationMap:
    """The stored map, ready to apply to soft labels."""
    return CalibrationMap.from_dict({"method": calibration.method, "params": calibration.params})
