"""Keyword-only CRUD for training runs and their per-step metrics (the API and the dashboard).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.models import RunMetric, TrainingRun
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     run = TrainingRun(kind="dpo", name="r", status="completed")
...     s.add(run); s.flush()
...     s.add(RunMetric(run_id=run.id, step=2, values={"loss": 0.5}))
...     s.add(RunMetric(run_id=run.id, step=1, values={"loss": 0.7}))
...     s.flush()
...     [m.step for m in run_metrics(s, run_id=run.id)], metric_counts(s)[run.id]
([1, 2], 2)
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from ..models import RunMetric, TrainingRun
from .paging import equal_to, page


def get_run(session: Session, *, run_id: int) -> TrainingRun | None:
    return session.get(TrainingRun, run_id)


def list_runs(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    snapshot_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[TrainingRun], int]:
    """Runs matching every given filter, newest first, and their total."""
    conds = equal_to(
        {TrainingRun.kind: kind, TrainingRun.status: status, TrainingRun.snapshot_id: snapshot_id}
    )
    return page(
        session, TrainingRun, conds, order_by=TrainingRun.id.desc(), offset=offset, limit=limit
    )


def run_metrics(session: Session, *, run_id: int, limit: int | None = None) -> list[RunMetric]:
    """A run's per-step instruments, in step order."""
    return list(
        session.exec(
            select(RunMetric)
            .where(RunMetric.run_id == run_id)
            .order_by(RunMetric.step)
            .limit(limit)
        ).all()
    )


def metric_counts(session: Session) -> dict[int, int]:
    """Steps with metrics, per run id."""
    return dict(
        session.exec(select(RunMetric.run_id, func.count()).group_by(RunMetric.run_id)).all()
    )
