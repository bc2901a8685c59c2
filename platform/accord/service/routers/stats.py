"""Store-wide counts (the dashboard's overview) and who is signed in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ...store.crud.stats import overview_counts
from ...store.models import User, UserPublic
from ..auth import READ_DATA
from ..deps import SessionDep, allow

router = APIRouter(tags=["overview"])


@router.get("/stats", dependencies=[Depends(allow(READ_DATA))], summary="Counts across the store")
def stats(session: SessionDep) -> dict[str, Any]:
    return overview_counts(session)


@router.get("/me", response_model=UserPublic, summary="The signed-in user")
def me(user: Annotated[User, Depends(allow(READ_DATA))]) -> User:
    return user
