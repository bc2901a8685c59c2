"""Keyword-only CRUD for prompts.

>>> from accord.store.db import open_store, session_scope
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Say hi", source="doc")
...     upsert_prompt(s, text="Say hi").id == p.id
True
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from ..keys import prompt_key, split_group
from ..models import Prompt
from ..text import check_store_json, check_store_text
from .paging import equal_to, page


def render_messages(messages: list[dict[str, Any]]) -> str:
    """Plain-text view of a conversation (what ``Prompt.text`` holds for chat prompts)."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0].get("content", ""))
    return "\n\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)


def prompt_row(
    *,
    text: str,
    source: str = "",
    messages: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of a prompt (for bulk inserts)."""
    if messages and not text:
        text = render_messages(messages)
    check_store_text(text, field="prompt text")
    if meta:
        check_store_json(meta, field="prompt meta")
    return {
        "text": text,
        "source": source,
        "content_hash": prompt_key(text, messages),
        "split_group": split_group(text),
        "messages": messages or None,
        "meta": meta or {},
    }


def get_prompt_by_hash(session: Session, *, content_hash: str) -> Prompt | None:
    return session.exec(select(Prompt).where(Prompt.content_hash == content_hash)).first()


def upsert_prompt(
    session: Session,
    *,
    text: str,
    source: str = "",
    messages: list[dict[str, Any]] | None = None,
    meta: dict[str, Any] | None = None,
) -> Prompt:
    """The prompt with this content, created if new (the first source is kept)."""
    row = prompt_row(text=text, source=source, messages=messages, meta=meta)
    existing = get_prompt_by_hash(session, content_hash=row["content_hash"])
    if existing is not None:
        return existing
    prompt = Prompt(**row)
    session.add(prompt)
    session.flush()
    return prompt


def get_prompt(session: Session, *, prompt_id: int) -> Prompt | None:
    return session.get(Prompt, prompt_id)


def list_prompts(
    session: Session, *, source: str | None = None, offset: int = 0, limit: int = 100
) -> tuple[list[Prompt], int]:
    """A page of prompts and the total count matching the filter."""
    return page(
        session,
        Prompt,
        equal_to({Prompt.source: source}),
        order_by=Prompt.id,
        offset=offset,
        limit=limit,
    )
