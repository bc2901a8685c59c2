"""Calibrations: ``GET /api/calibrations`` lists them (``?judge=`` to filter), ``GET
/api/calibrations/{id}`` shows one, ``POST /api/calibrations`` fits one on the store's human
labels (engineer role; ``accord.audit.calibrate``). Fitting again on the same labels answers
200 with the stored row (``created: false``); a new fit answers 201. A judge without enough
pairs carrying both labels answers 422 saying what is missing.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response

from ...store.crud import calibrations as crud
from ...store.models import CalibrationCreate, CalibrationFitPublic, CalibrationPublic
from ..auth import OPERATE, READ_OPS
from ..deps import EngineDep, IdPath, SessionDep, allow

router = APIRouter(prefix="/calibrations", tags=["trust"])


@router.get("", response_model=list[CalibrationPublic], dependencies=[Depends(allow(READ_OPS))])
def list_calibrations(session: SessionDep, judge: str | None = None):
    return crud.list_calibrations(session, judge=judge)


@router.get(
    "/{calibration_id}", response_model=CalibrationPublic, dependencies=[Depends(allow(READ_OPS))]
)
def get_calibration(calibration_id: IdPath, session: SessionDep):
    row = crud.get_calibration(session, calibration_id=calibration_id)
    if row is None:
        raise HTTPException(404, f"no calibration {calibration_id}")
    return row


@router.post(
    "", response_model=CalibrationFitPublic, status_code=201, dependencies=[Depends(allow(OPERATE))]
)
def fit_calibration(body: CalibrationCreate, engine: EngineDep, response: Response):
    from ...audit.calibrate import calibrate_judge

    try:
        outcome = calibrate_judge(
            engine,
            judge=body.judge,
            constitution=body.constitution,
            principle=body.principle,
            method=body.method,
            folds=body.folds,
            seed=body.seed,
            n_resamples=body.resamples,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if not outcome.created:
        response.status_code = 200
    return CalibrationFitPublic(
        created=outcome.created, calibration=CalibrationPublic.model_validate(outcome.calibration)
    )
