"""FastAPI dependencies: settings, the store session, the signed-in user, role checks, pages.

A request is signed in by ``Authorization: Bearer <token>``. The dashboard's sign-in cookie
is accepted too, but only for GET and HEAD requests: a cookie alone can never change
anything, so a page on another site cannot make a signed-in browser start jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..store.db import session_scope
from ..store.models import User
from ..store.models._base import MAX_ID  # the routers' id bound, beside the tables
from .auth import Permission
from .config import ServiceSettings
from .users import user_for_token

SAFE_METHODS = ("GET", "HEAD")

# Ids in paths and filters: bounded, so an absurd id is a 422, never a database error.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler returns without error.

    Its scope is the route function (``SessionDep``): the commit happens before the response
    is sent, so a commit that fails answers an error, never a 2xx for lost work.
    """
    with session_scope(request.app.state.engine) as session:
        yield session


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def token_from_request(request: Request, settings: ServiceSettings) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the Authorization header must be 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return value.strip()
    if request.method in SAFE_METHODS:
        return request.cookies.get(settings.cookie_name) or None
    return None


def current_user(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    token = token_from_request(request, settings)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in: send 'Authorization: Bearer "
            "<token>' (tokens come from 'accord users create')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = user_for_token(session, token=token)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or deactivated token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


class allow:
    """Dependency admitting the roles of ``permission`` (401 unsigned, 403 other roles)."""

    def __init__(self, permission: Permission):
        self.permission = permission

    def __call__(self, user: CurrentUser) -> User:
        if user.role not in self.permission.roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {user.role!r} may not do this (needs one of: "
                f"{', '.join(sorted(self.permission.roles))})",
            )
        return user


class PageParams:
    """``limit``/``offset`` query parameters, bounded by ``max_page_size``."""

    def __init__(self, limit: int, offset: int):
        self.limit = limit
        self.offset = offset


def page_params(
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (at most max_page_size).")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip.")] = 0,
) -> PageParams:
    if limit is None:
        limit = settings.default_page_size
    if limit > settings.max_page_size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit {limit} is larger than the largest page, {settings.max_page_size}",
        )
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def check_text(settings: ServiceSettings, field: str, value: str | None) -> None:
    """422 naming ``field`` when a text is longer than ``max_text_chars``."""
    if value is not None and len(value) > settings.max_text_chars:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{field} is {len(value)} characters long; the limit is {settings.max_text_chars}",
        )
