"""Store-wide counts (the dashboard's overview) and who is signed in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import func, select

from ...store.crud.stats import store_stats
from ...store.models import Job, User, UserPublic
from ..auth import READ_DATA
from ..deps import SessionDep, allow

router = APIRouter(tags=["overview"])


def overview_counts(session) -> dict[str, Any]:
    counts = store_stats(session)
    by_status = dict(session.exec(select(Job.status, func.count()).group_by(Job.status)).all())
    counts["jobs"] = {"total": sum(by_status.values()), **by_status}
    return counts


@router.get("/stats", dependencies=[Depends(allow(READ_DATA))], summary="Counts across the store")
def stats(session: SessionDep) -> dict[str, Any]:
    return overview_counts(session)


@router.get("/me", response_model=UserPublic, summary="The signed-in user")
def me(user: Annotated[User, Depends(allow(READ_DATA))]) -> User:
    return user
