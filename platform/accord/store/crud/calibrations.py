"""Keyword-only CRUD for calibrations (never commits: the caller owns the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Calibration


def get_calibration(session: Session, *, calibration_id: int) -> Calibration | None:
    return session.get(Calibration, calibration_id)


def get_calibration_by_key(session: Session, *, key_hash: str) -> Calibration | None:
    return session.exec(select(Calibration).where(Calibration.key_hash == key_hash)).first()


def list_calibrations(session: Session, *, judge: str | None = None) -> list[Calibration]:
    query = select(Calibration).order_by(Calibration.id)
    if judge is not None:
        query = query.where(Calibration.judge == judge)
    return list(session.exec(query).all())


def next_calibration_version(
    session: Session, *, judge: str, constitution_hash: str, principle: str, method: str
) -> int:
    latest = session.exec(
        select(func.max(Calibration.version)).where(
            Calibration.judge == judge,
            Calibration.constitution_hash == constitution_hash,
            Calibration.principle == principle,
            Calibration.method == method,
        )
    ).one()
    return (latest or 0) + 1


def create_calibration(
    session: Session,
    *,
    key_hash: str,
    judge: str,
    constitution_hash: str,
    principle: str,
    method: str,
    human_label_hash: str,
    n: int,
    params: dict[str, Any],
    report: dict[str, Any],
) -> Calibration:
    """Store a fit as the next version for its judge/constitution/principle/method."""
    row = Calibration(
        key_hash=key_hash,
        judge=judge,
        constitution_hash=constitution_hash,
        principle=principle,
        method=method,
        human_label_hash=human_label_hash,
        n=n,
        params=params,
        report=report,
        version=next_calibration_version(
            session,
            judge=judge,
            constitution_hash=constitution_hash,
            principle=principle,
            method=method,
        ),
        ece_before=report["ece"]["before"]["value"],
        ece_after=report["ece"]["after"]["value"],
        brier_before=report["brier"]["before"]["value"],
        brier_after=report["brier"]["after"]["value"],
    )
    session.add(row)
    session.flush()
    return row
