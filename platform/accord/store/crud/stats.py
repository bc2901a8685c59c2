"""Counts across the store (``accord stats``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..models import Annotator, Judgment, Pair, Prompt, Response, Snapshot, TrainingRun
from ..models.judgment import KINDS
from ..models.response import ROLES


def store_stats(session: Session) -> dict[str, Any]:
    def count(model, *conds) -> int:
        return session.execute(select(func.count()).select_from(model).where(*conds)).scalar_one()

    by_role = dict(
        session.execute(select(Response.role, func.count()).group_by(Response.role)).all()
    )
    by_kind = dict(
        session.execute(select(Judgment.kind, func.count()).group_by(Judgment.kind)).all()
    )
    return {
        "prompts": count(Prompt),
        "responses": {"total": count(Response), **{r: by_role.get(r, 0) for r in ROLES}},
        "pairs": count(Pair),
        "judgments": {"total": count(Judgment), **{k: by_kind.get(k, 0) for k in KINDS}},
        "annotators": count(Annotator),
        "snapshots": count(Snapshot),
        "runs": count(TrainingRun),
    }


def overview_counts(session: Session) -> dict[str, Any]:
    """``store_stats`` plus the jobs by status (``GET /stats`` and the dashboard's overview)."""
    from .jobs import job_counts

    return {**store_stats(session), "jobs": job_counts(session)}
