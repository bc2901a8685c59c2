"""Keyword-only CRUD for human demonstrations: responses an annotator wrote for a prompt.

A demonstration is a ``Response`` with role ``demonstration``, its author the annotator
(``annotator_id``, ``model_id`` ``human:<username>``, backend ``human``) and its origin in
``source`` / ``external_id``. One annotator has at most one demonstration *in force* per
prompt and source: the newest revision that is not withdrawn. Writing the same text again
changes nothing; a different text becomes a new revision whose parent is the one it replaces
(the old row stays, as lineage); withdrawing stamps ``withdrawn_at`` on the one in force.

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.annotators import get_or_create_annotator
>>> from accord.store.crud.prompts import upsert_prompt
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Say hi.")
...     alice = get_or_create_annotator(s, username="alice", source="argilla")
...     first, a = upsert_demonstration(s, prompt=p, annotator=alice, text="Hi!", source="x")
...     same, b = upsert_demonstration(s, prompt=p, annotator=alice, text="Hi!", source="x")
...     edit, c = upsert_demonstration(s, prompt=p, annotator=alice, text="Hello!", source="x")
...     (a, b, c), edit.parent_id == first.id, first.model_id
(('created', 'unchanged', 'revised'), True, 'human:alice')
"""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import Annotator, Prompt, Response
from ..models._base import utcnow
from ..models.response import HUMAN_BACKEND, human_model_id
from .responses import upsert_response

DEMONSTRATION = "demonstration"


class EmptyDemonstrationError(ValueError):
    """A demonstration with no text (empty or only white space): refused, never stored."""


def check_demonstration_text(text: object) -> str:
    """``text`` when it is a demonstration worth storing; EmptyDemonstrationError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise EmptyDemonstrationError(
            "the demonstration is empty (no text, or only white space); write the response "
            "the model should give"
        )
    return text


def current_demonstration(
    session: Session, *, prompt_id: int, annotator_id: int, source: str
) -> Response | None:
    """The newest revision of an annotator's demonstration for a prompt from ``source``
    (withdrawn or not)."""
    return session.exec(
        select(Response)
        .where(
            Response.role == DEMONSTRATION,
            Response.prompt_id == prompt_id,
            Response.annotator_id == annotator_id,
            Response.source == source,
        )
        .order_by(Response.id.desc())
    ).first()


def upsert_demonstration(
    session: Session,
    *,
    prompt: Prompt,
    annotator: Annotator,
    text: str,
    source: str,
    external_id: str | None = None,
) -> tuple[Response, str]:
    """Store an annotator's demonstration; the outcome is created | revised | unchanged |
    restored (the same text as a withdrawn one, in force again)."""
    check_demonstration_text(text)
    current = current_demonstration(
        session, prompt_id=prompt.id, annotator_id=annotator.id, source=source
    )
    if current is not None and current.text == text:
        if current.withdrawn_at is None:
            return current, "unchanged"
        current.withdrawn_at = None
        session.add(current)
        session.flush()
        return current, "restored"
    response = upsert_response(
        session,
        prompt=prompt,
        text=text,
        role=DEMONSTRATION,
        parent=current,
        model_id=human_model_id(annotator.username),
        backend=HUMAN_BACKEND,
    )
    if response.annotator_id is None:  # new (a row with this content and lineage is reused)
        response.annotator_id = annotator.id
        response.source = source
        response.external_id = external_id
        session.add(response)
        session.flush()
    return response, "created" if current is None else "revised"


def withdraw_demonstration(
    session: Session, *, prompt_id: int, annotator_id: int, source: str
) -> str:
    """Mark an annotator's demonstration in force as withdrawn: withdrawn | unchanged (already
    withdrawn) | absent (none stored)."""
    current = current_demonstration(
        session, prompt_id=prompt_id, annotator_id=annotator_id, source=source
    )
    if current is None:
        return "absent"
    if current.withdrawn_at is not None:
        return "unchanged"
    current.withdrawn_at = utcnow()
    session.add(current)
    session.flush()
    return "withdrawn"


def demonstrations_in_force(
    session: Session, *, source: str | None = None, prompt_ids: list[int] | None = None
) -> list[Response]:
    """Every annotator's demonstration in force (the newest revision, not withdrawn), one per
    (prompt, annotator, source), ordered by id."""
    q = select(Response).where(Response.role == DEMONSTRATION)
    if source is not None:
        q = q.where(Response.source == source)
    if prompt_ids is not None:
        q = q.where(Response.prompt_id.in_(prompt_ids))
    newest: dict[tuple, Response] = {}
    for row in session.exec(q.order_by(Response.id)).all():
        newest[(row.prompt_id, row.annotator_id, row.source)] = row
    return sorted((r for r in newest.values() if r.withdrawn_at is None), key=lambda r: r.id or 0)
