"""Training runs and their per-step metrics (the dashboard draws these as curves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlmodel import func, select

from ...store.models import RunMetric, TrainingRun, TrainingRunPublic
from ..auth import READ_OPS
from ..deps import IdPath, IdQuery, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/runs", tags=["runs"], dependencies=[Depends(allow(READ_OPS))])


class RunMetricPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    values: dict[str, Any]
    created_at: datetime


@router.get("", response_model=Page[TrainingRunPublic])
def list_runs(session: SessionDep, page: PageDep,
              kind: Annotated[str | None, Query(max_length=16)] = None,
              status: Annotated[str | None, Query(max_length=12)] = None,
              snapshot_id: IdQuery = None):
    filters = {TrainingRun.kind: kind, TrainingRun.status: status,
               TrainingRun.snapshot_id: snapshot_id}
    conds = [col == v for col, v in filters.items() if v is not None]
    rows = session.exec(select(TrainingRun).where(*conds).order_by(TrainingRun.id.desc())
                        .offset(page.offset).limit(page.limit)).all()
    total = session.exec(select(func.count()).select_from(TrainingRun).where(*conds)).one()
    return page_of(TrainingRunPublic, rows, total, page)


def run_or_404(session, run_id: int) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id}")
    return run


@router.get("/{run_id}", response_model=TrainingRunPublic)
def show_run(run_id: IdPath, session: SessionDep):
    return run_or_404(session, run_id)


@router.get("/{run_id}/metrics", response_model=list[RunMetricPublic])
def run_metrics(run_id: IdPath, session: SessionDep,
                limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000):
    """Per-step instruments (loss, reward accuracy, KL, ...), in step order."""
    run_or_404(session, run_id)
    return session.exec(select(RunMetric).where(RunMetric.run_id == run_id)
                        .order_by(RunMetric.step).limit(limit)).all()
