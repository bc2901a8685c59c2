"""Service users: a role and the hash of a bearer token (the token itself is never stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from ._base import utcnow

ROLES = ("admin", "engineer", "annotator", "viewer")
Role = Literal["admin", "engineer", "annotator", "viewer"]


class UserBase(SQLModel):
    name: str = Field(max_length=200, unique=True, index=True)
    role: str = Field(max_length=16, description="|".join(ROLES))
    active: bool = True
    token_expires_at: datetime | None = Field(
        default=None, description="When the token stops signing in (None: it does not expire)."
    )


class User(UserBase, table=True):
    __tablename__ = "service_user"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    annotator_id: int | None = Field(default=None, foreign_key="annotator.id")
    created_at: datetime = Field(default_factory=utcnow)


class UserPublic(UserBase):
    id: int
    created_at: datetime


class UserCreate(SQLModel):
    """``POST /users``: a user to create (its token is answered once)."""

    name: str = Field(min_length=1, max_length=200)
    role: Role
    expires_at: datetime | None = Field(default=None, description="When the token stops working.")


class UserUpdate(SQLModel):
    """``PATCH /users/{id}``: what to change (fields left out stay as they are)."""

    role: Role | None = None
    active: bool | None = None
    expires_at: datetime | None = Field(default=None, description="A new token expiry.")


class UserWithToken(SQLModel):
    user: UserPublic
    token: str = Field(description="The bearer token. Shown only here: store it now.")
