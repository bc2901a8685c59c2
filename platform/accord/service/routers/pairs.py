"""Pairs, with their prompt and both responses for labelling."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import pairs as crud
from ...store.models import PairPublic, Prompt, PromptPublic, Response, ResponsePublic
from ..auth import READ_DATA
from ..deps import IdPath, IdQuery, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/pairs", tags=["pairs"], dependencies=[Depends(allow(READ_DATA))])


class PairDetail(PairPublic):
    prompt: PromptPublic
    response_a: ResponsePublic
    response_b: ResponsePublic


@router.get("", response_model=Page[PairPublic])
def list_pairs(session: SessionDep, page: PageDep, prompt_id: IdQuery = None,
               job_id: IdQuery = None,
               source: Annotated[str | None, Query(max_length=200)] = None):
    rows, total = crud.list_pairs(session, prompt_id=prompt_id, job_id=job_id, source=source,
                                  offset=page.offset, limit=page.limit)
    return page_of(PairPublic, rows, total, page)


@router.get("/{pair_id}", response_model=PairDetail)
def show_pair(pair_id: IdPath, session: SessionDep):
    pair = crud.get_pair(session, pair_id=pair_id)
    if pair is None:
        raise HTTPException(404, f"no pair {pair_id}")
    return PairDetail(
        **PairPublic.model_validate(pair).model_dump(),
        prompt=PromptPublic.model_validate(session.get(Prompt, pair.prompt_id)),
        response_a=ResponsePublic.model_validate(session.get(Response, pair.response_a_id)),
        response_b=ResponsePublic.model_validate(session.get(Response, pair.response_b_id)),
    )
