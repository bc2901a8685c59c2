"""Service users: create (the token is returned once), find by token, list, change, deactivate.

Only the SHA-256 of a token is stored, so a lost token cannot be recovered: rotate it.

>>> from accord.store.db import open_store, session_scope
>>> from accord.service.users import create_user, user_for_token
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     user, token = create_user(s, name="ada", role="engineer")
...     user_for_token(s, token=token).name
'ada'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, func, select

from ..store.crud.annotators import get_or_create_annotator
from ..store.models import User
from ..store.models._base import utcnow
from ..store.models.user import ROLES
from .auth import hash_token, new_token

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,199}$")


class UserError(ValueError):
    """A user operation that cannot be done (bad name or role)."""


class UserExists(UserError):
    """The name is taken."""


def validate_user(*, name: str, role: str) -> None:
    if not NAME_RE.match(name):
        raise UserError(
            f"user name {name!r} must be 1-200 characters of letters, digits, '_', '.', '@', '-'"
            " and start with a letter or digit"
        )
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}; got {role!r}")


class LastAdminError(UserError):
    """The change would leave the service without an active admin."""


def create_user(
    session: Session, *, name: str, role: str, expires_at: datetime | None = None
) -> tuple[User, str]:
    """A new active user and its bearer token (shown once; only its hash is kept).

    An annotator user is linked to the annotator of the same name, so the judgments it submits
    through the API count with that annotator's other labels.
    """
    validate_user(name=name, role=role)
    if get_user(session, name=name) is not None:
        raise UserExists(f"user {name!r} already exists")
    token = new_token()
    user = User(
        name=name, role=role, token_hash=hash_token(token), token_expires_at=_future(expires_at)
    )
    if role == "annotator":
        user.annotator_id = get_or_create_annotator(session, username=name, source="api").id
    session.add(user)
    session.flush()
    return user, token


def get_user(
    session: Session, *, user_id: int | None = None, name: str | None = None
) -> User | None:
    if user_id is not None:
        return session.get(User, user_id)
    return session.exec(select(User).where(User.name == name)).first()


def user_for_token(session: Session, *, token: str) -> User | None:
    """The active user holding ``token``, or None."""
    user = session.exec(select(User).where(User.token_hash == hash_token(token))).first()
    if user is None or not user.active:
        return None
    if user.token_expires_at is not None and _aware(user.token_expires_at) <= utcnow():
        return None
    return user


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _future(when: datetime | None) -> datetime | None:
    if when is not None and _aware(when) <= utcnow():
        raise UserError(f"the expiry {when.isoformat()} is not in the future")
    return when


def parse_expiry(text: str) -> datetime:
    """An expiry as ``30d``, ``12h``, ``90m`` from now, or an ISO date/time (UTC if no zone).

    >>> parse_expiry("2030-01-02").isoformat()
    '2030-01-02T00:00:00+00:00'
    """
    value = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[-1:] in units and value[:-1].isdigit() and int(value[:-1]) > 0:
        return utcnow() + timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        raise UserError(
            f"expiry {text!r} is not a duration (30d, 12h, 90m) or an ISO date"
        ) from None


def _active_admins(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == "admin", User.active == True)
    ).one()


def list_users(
    session: Session,
    *,
    role: str | None = None,
    active: bool | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[User], int]:
    conds = []
    if role is not None:
        conds.append(User.role == role)
    if active is not None:
        conds.append(User.active == active)
    q = select(User).where(*conds).order_by(User.id).offset(offset).limit(limit)
    total = session.exec(select(func.count()).select_from(User).where(*conds)).one()
    return list(session.exec(q).all()), total


def update_user(
    session: Session,
    *,
    user: User,
    role: str | None = None,
    active: bool | None = None,
    expires_at: datetime | None = None,
    clear_expiry: bool = False,
) -> User:
    """Change role, active flag or token expiry; the last active admin stays an admin."""
    if role is not None:
        validate_user(name=user.name, role=role)
    demoted = (role is not None and role != "admin") or active is False
    if demoted and user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise LastAdminError(f"{user.name!r} is the last active admin; make another admin first")
    if expires_at is not None:
        user.token_expires_at = _future(expires_at)
    elif clear_expiry:
        user.token_expires_at = None
    if role is not None:
        validate_user(name=user.name, role=role)
        user.role = role
        if role == "annotator" and user.annotator_id is None:
            user.annotator_id = get_or_create_annotator(
                session, username=user.name, source="api"
            ).id
    if active is not None:
        user.active = active
    session.add(user)
    session.flush()
    return user


def rotate_token(session: Session, *, user: User, expires_at: datetime | None = None) -> str:
    """Replace the user's token; the old one stops working at once."""
    token = new_token()
    user.token_hash = hash_token(token)
    user.token_expires_at = _future(expires_at)
    session.add(user)
    session.flush()
    return token
