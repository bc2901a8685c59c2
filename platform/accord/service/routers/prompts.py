"""Prompts: list (filter by source), show, add."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import prompts as crud
from ...store.models import PromptCreate, PromptPublic
from ..auth import OPERATE, READ_DATA
from ..deps import IdPath, PageDep, SessionDep, SettingsDep, allow, check_text
from ..pages import Page, page_of

router = APIRouter(prefix="/prompts", tags=["prompts"])


@router.get("", response_model=Page[PromptPublic], dependencies=[Depends(allow(READ_DATA))])
def list_prompts(
    session: SessionDep, page: PageDep, source: Annotated[str | None, Query(max_length=200)] = None
):
    rows, total = crud.list_prompts(session, source=source, offset=page.offset, limit=page.limit)
    return page_of(PromptPublic, rows, total, page)


@router.get("/{prompt_id}", response_model=PromptPublic, dependencies=[Depends(allow(READ_DATA))])
def show_prompt(prompt_id: IdPath, session: SessionDep):
    prompt = crud.get_prompt(session, prompt_id=prompt_id)
    if prompt is None:
        raise HTTPException(404, f"no prompt {prompt_id}")
    return prompt


@router.post(
    "", response_model=PromptPublic, status_code=201, dependencies=[Depends(allow(OPERATE))]
)
def add_prompt(body: PromptCreate, session: SessionDep, settings: SettingsDep):
    """Store a prompt (the existing row is returned when the same content is already stored)."""
    check_text(settings, "text", body.text)
    if not body.text.strip() and not body.messages:
        raise HTTPException(422, "a prompt needs a non-empty text or messages")
    for i, message in enumerate(body.messages or []):
        content = message.get("content")
        if not isinstance(content, str) or not isinstance(message.get("role", "user"), str):
            raise HTTPException(422, f"messages[{i}] needs a string 'content' (and string 'role')")
        check_text(settings, f"messages[{i}].content", content)
    return crud.upsert_prompt(
        session, text=body.text, source=body.source, messages=body.messages, meta=body.meta
    )
