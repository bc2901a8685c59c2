"""Keyword-only CRUD for responses and their lineage.

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.prompts import upsert_prompt
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Q")
...     r = upsert_response(s, prompt=p, text="A", model_id="m")
...     rev = upsert_response(s, prompt=p, text="A!", role="revision", parent=r)
...     [x.id for x in lineage(s, response_id=rev.id)] == [r.id, rev.id]
True
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from ..keys import response_key
from ..models import Prompt, Response
from ..models.response import ROLES
from ..text import check_store_text
from .paging import equal_to, page


def response_row(
    *,
    prompt_hash: str,
    prompt_id: int,
    text: str,
    role: str = "initial",
    parent_hash: str = "",
    parent_id: int | None = None,
    model_id: str = "",
    backend: str = "",
    **extra: Any,
) -> dict[str, Any]:
    if role not in ROLES:
        raise ValueError(f"response role must be one of {ROLES}, got {role!r}")
    check_store_text(text, field="response text")
    row = {
        "text": text,
        "role": role,
        "model_id": model_id,
        "backend": backend,
        "prompt_id": prompt_id,
        "parent_id": parent_id,
        "content_hash": response_key(
            prompt_hash, text, role=role, parent_hash=parent_hash, model_id=model_id
        ),
        "sampling_params": extra.pop("sampling_params", None) or {},
        "usage": extra.pop("usage", None) or {},
        "messages": extra.pop("messages", None),
        "constitution_id": extra.pop("constitution_id", None),
        "principle": extra.pop("principle", "") or "",
        "round": extra.pop("round", 0),
        "job_id": extra.pop("job_id", None),
        "raw_output": extra.pop("raw_output", None),
        "finish_reason": extra.pop("finish_reason", None),
        "cache_key": extra.pop("cache_key", None),
    }
    if extra:
        raise TypeError(f"unknown response fields: {sorted(extra)}")
    return row


def upsert_response(
    session: Session,
    *,
    prompt: Prompt,
    text: str,
    role: str = "initial",
    parent: Response | None = None,
    model_id: str = "",
    backend: str = "",
    **extra: Any,
) -> Response:
    """The response with this content and lineage, created if new.

    ``extra``: sampling_params, usage, messages, constitution_id, principle, round, job_id,
    raw_output, finish_reason, cache_key.
    """
    row = response_row(
        prompt_hash=prompt.content_hash,
        prompt_id=prompt.id,
        text=text,
        role=role,
        parent_hash=parent.content_hash if parent else "",
        parent_id=parent.id if parent else None,
        model_id=model_id,
        backend=backend,
        **extra,
    )
    existing = session.exec(
        select(Response).where(Response.content_hash == row["content_hash"])
    ).first()
    if existing is not None:
        return existing
    response = Response(**row)
    session.add(response)
    session.flush()
    return response


def get_response(session: Session, *, response_id: int) -> Response | None:
    return session.get(Response, response_id)


def lineage(session: Session, *, response_id: int) -> list[Response]:
    """The chain from the initial response down to ``response_id`` (oldest first)."""
    chain: list[Response] = []
    current = session.get(Response, response_id)
    while current is not None:
        chain.append(current)
        current = session.get(Response, current.parent_id) if current.parent_id else None
    return chain[::-1]


def list_responses(
    session: Session,
    *,
    prompt_id: int | None = None,
    role: str | None = None,
    model_id: str | None = None,
    job_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Response], int]:
    conds = equal_to(
        {
            Response.prompt_id: prompt_id,
            Response.role: role,
            Response.model_id: model_id,
            Response.job_id: job_id,
        }
    )
    return page(session, Response, conds, order_by=Response.id, offset=offset, limit=limit)
