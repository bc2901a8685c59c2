"""Training runs and their per-step metrics (the dashboard draws these as curves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import runs as crud
from ...store.models import RunMetricPublic, TrainingRun, TrainingRunPublic
from ..auth import READ_OPS
from ..deps import IdPath, IdQuery, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/runs", tags=["runs"], dependencies=[Depends(allow(READ_OPS))])


@router.get("", response_model=Page[TrainingRunPublic])
def list_runs(
    session: SessionDep,
    page: PageDep,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(max_length=12)] = None,
    snapshot_id: IdQuery = None,
):
    rows, total = crud.list_runs(
        session,
        kind=kind,
        status=status,
        snapshot_id=snapshot_id,
        offset=page.offset,
        limit=page.limit,
    )
    return page_of(TrainingRunPublic, rows, total, page)


def run_or_404(session, run_id: int) -> TrainingRun:
    run = crud.get_run(session, run_id=run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id}")
    return run


@router.get("/{run_id}", response_model=TrainingRunPublic)
def show_run(run_id: IdPath, session: SessionDep):
    return run_or_404(session, run_id)


@router.get("/{run_id}/metrics", response_model=list[RunMetricPublic])
def run_metrics(
    run_id: IdPath, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000
):
    """Per-step instruments (loss, reward accuracy, KL, ...), in step order."""
    run_or_404(session, run_id)
    return crud.run_metrics(session, run_id=run_id, limit=limit)
