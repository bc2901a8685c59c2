"""Users and tokens (admins only). A token appears once, in the answer that creates it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.models import UserCreate, UserPublic, UserUpdate, UserWithToken
from ...store.models.user import Role
from .. import users as crud
from ..auth import ADMIN
from ..deps import IdPath, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(allow(ADMIN))])


def _user_or_404(session, user_id: int):
    user = crud.get_user(session, user_id=user_id)
    if user is None:
        raise HTTPException(404, f"no user {user_id}")
    return user


@router.get("", response_model=Page[UserPublic])
def list_users(
    session: SessionDep,
    page: PageDep,
    role: Annotated[Role | None, Query()] = None,
    active: bool | None = None,
):
    rows, total = crud.list_users(
        session, role=role, active=active, offset=page.offset, limit=page.limit
    )
    return page_of(UserPublic, rows, total, page)


@router.post("", response_model=UserWithToken, status_code=201)
def create_user(body: UserCreate, session: SessionDep):
    try:
        user, token = crud.create_user(
            session, name=body.name, role=body.role, expires_at=body.expires_at
        )
    except crud.UserExists as exc:
        raise HTTPException(409, str(exc)) from None
    except crud.UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return UserWithToken(user=UserPublic.model_validate(user), token=token)


@router.get("/{user_id}", response_model=UserPublic)
def show_user(user_id: IdPath, session: SessionDep):
    return _user_or_404(session, user_id)


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: IdPath, body: UserUpdate, session: SessionDep):
    """Change a user's role, token expiry, or deactivate it (its token stops working). The
    last active admin cannot be demoted or deactivated (409)."""
    try:
        return crud.update_user(
            session,
            user=_user_or_404(session, user_id),
            role=body.role,
            active=body.active,
            expires_at=body.expires_at,
        )
    except crud.LastAdminError as exc:
        raise HTTPException(409, str(exc)) from None
    except crud.UserError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/{user_id}/token", response_model=UserWithToken)
def rotate_token(user_id: IdPath, session: SessionDep):
    """A new token for the user; the old one stops working."""
    user = _user_or_404(session, user_id)
    token = crud.rotate_token(session, user=user)
    return UserWithToken(user=UserPublic.model_validate(user), token=token)
