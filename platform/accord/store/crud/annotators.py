"""Keyword-only CRUD for annotators."""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import Annotator


def get_annotator(session: Session, *, username: str) -> Annotator | None:
    return session.exec(select(Annotator).where(Annotator.username == username)).first()


def get_or_create_annotator(
    session: Session,
    *,
    username: str,
    source: str = "",
    external_id: str | None = None,
    is_gold: bool = False,
) -> Annotator:
    """The annotator with this username; an Argilla user id found later is filled in."""
    annotator = get_annotator(session, username=username)
    if annotator is None:
        annotator = Annotator(
            username=username, source=source, external_id=external_id, is_gold=is_gold
        )
        session.add(annotator)
        session.flush()
    elif external_id and annotator.external_id != external_id:
        annotator.external_id = external_id
        session.add(annotator)
        session.flush()
    return annotator


def list_annotators(session: Session) -> list[Annotator]:
    return list(session.exec(select(Annotator).order_by(Annotator.id)).all())
