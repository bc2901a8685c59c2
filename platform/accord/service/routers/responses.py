"""Responses with their lineage (initial → critique → revision)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import responses as crud
from ...store.models import ResponsePublic
from ..auth import READ_DATA
from ..deps import IdPath, IdQuery, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(
    prefix="/responses", tags=["responses"], dependencies=[Depends(allow(READ_DATA))]
)


@router.get("", response_model=Page[ResponsePublic])
def list_responses(
    session: SessionDep,
    page: PageDep,
    prompt_id: IdQuery = None,
    role: Annotated[str | None, Query(max_length=16)] = None,
    model_id: Annotated[str | None, Query(max_length=300)] = None,
    job_id: IdQuery = None,
):
    rows, total = crud.list_responses(
        session,
        prompt_id=prompt_id,
        role=role,
        model_id=model_id,
        job_id=job_id,
        offset=page.offset,
        limit=page.limit,
    )
    return page_of(ResponsePublic, rows, total, page)


@router.get("/{response_id}", response_model=ResponsePublic)
def show_response(response_id: IdPath, session: SessionDep):
    response = crud.get_response(session, response_id=response_id)
    if response is None:
        raise HTTPException(404, f"no response {response_id}")
    return response


@router.get("/{response_id}/lineage", response_model=list[ResponsePublic])
def response_lineage(response_id: IdPath, session: SessionDep):
    """The chain from the initial response to this one, oldest first."""
    chain = crud.lineage(session, response_id=response_id)
    if not chain:
        raise HTTPException(404, f"no response {response_id}")
    return chain
