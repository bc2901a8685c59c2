"""Pairs, with their prompt and both responses for labelling."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import pairs as crud
from ...store.crud.prompts import get_prompt
from ...store.crud.responses import get_response
from ...store.models import PairDetail, PairPublic, PromptPublic, ResponsePublic
from ..auth import READ_DATA
from ..deps import IdPath, IdQuery, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/pairs", tags=["pairs"], dependencies=[Depends(allow(READ_DATA))])


@router.get("", response_model=Page[PairPublic])
def list_pairs(
    session: SessionDep,
    page: PageDep,
    prompt_id: IdQuery = None,
    job_id: IdQuery = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
):
    rows, total = crud.list_pairs(
        session,
        prompt_id=prompt_id,
        job_id=job_id,
        source=source,
        offset=page.offset,
        limit=page.limit,
    )
    return page_of(PairPublic, rows, total, page)


@router.get("/{pair_id}", response_model=PairDetail)
def show_pair(pair_id: IdPath, session: SessionDep):
    pair = crud.get_pair(session, pair_id=pair_id)
    if pair is None:
        raise HTTPException(404, f"no pair {pair_id}")
    return PairDetail(
        **PairPublic.model_validate(pair).model_dump(),
        prompt=PromptPublic.model_validate(get_prompt(session, prompt_id=pair.prompt_id)),
        response_a=ResponsePublic.model_validate(
            get_response(session, response_id=pair.response_a_id)
        ),
        response_b=ResponsePublic.model_validate(
            get_response(session, response_id=pair.response_b_id)
        ),
    )
