"""Judgments: filtered lists, history of changed answers, and human labels from annotators."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from ...store.crud import annotators as annotator_crud
from ...store.crud import judgments as crud
from ...store.crud.constitutions import get_constitution
from ...store.crud.pairs import get_pair
from ...store.models import (
    JudgmentCreate,
    JudgmentCreated,
    JudgmentPublic,
    JudgmentRevisionPublic,
    User,
)
from ..auth import ANNOTATE, READ_DATA
from ..deps import IdPath, IdQuery, PageDep, SessionDep, SettingsDep, allow, check_text
from ..pages import Page, page_of

router = APIRouter(prefix="/judgments", tags=["judgments"])


@router.get("", response_model=Page[JudgmentPublic], dependencies=[Depends(allow(READ_DATA))])
def list_judgments(
    session: SessionDep,
    page: PageDep,
    pair_id: IdQuery = None,
    kind: Annotated[Literal["human", "ai"] | None, Query()] = None,
    judge: Annotated[str | None, Query(max_length=300)] = None,
    annotator: Annotated[
        str | None, Query(max_length=200, description="Annotator username.")
    ] = None,
    annotator_id: IdQuery = None,
    constitution: Annotated[
        str | None, Query(max_length=64, description="Constitution hash.")
    ] = None,
    constitution_id: IdQuery = None,
    principle: Annotated[str | None, Query(max_length=100)] = None,
    job_id: IdQuery = None,
    include_aggregates: bool = True,
):
    if annotator is not None:
        found = annotator_crud.get_annotator(session, username=annotator)
        annotator_id = found.id if found is not None else -1
    if constitution_id is not None:
        row = get_constitution(session, constitution_id=constitution_id)
        constitution = row.content_hash if row is not None else "-"
    rows, total = crud.list_judgments(
        session,
        pair_id=pair_id,
        kind=kind,
        judge=judge,
        annotator_id=annotator_id,
        constitution_hash=constitution,
        principle=principle,
        job_id=job_id,
        include_aggregates=include_aggregates,
        offset=page.offset,
        limit=page.limit,
    )
    return page_of(JudgmentPublic, rows, total, page)


@router.get(
    "/{judgment_id}", response_model=JudgmentPublic, dependencies=[Depends(allow(READ_DATA))]
)
def show_judgment(judgment_id: IdPath, session: SessionDep):
    judgment = crud.get_judgment(session, judgment_id=judgment_id)
    if judgment is None:
        raise HTTPException(404, f"no judgment {judgment_id}")
    return judgment


@router.get(
    "/{judgment_id}/history",
    response_model=list[JudgmentRevisionPublic],
    dependencies=[Depends(allow(READ_DATA))],
)
def judgment_history(judgment_id: IdPath, session: SessionDep):
    """Earlier values of an edited judgment, oldest first."""
    if crud.get_judgment(session, judgment_id=judgment_id) is None:
        raise HTTPException(404, f"no judgment {judgment_id}")
    return crud.judgment_history(session, judgment_id=judgment_id)


@router.post("", response_model=JudgmentCreated, status_code=201)
def submit_judgment(
    body: JudgmentCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(allow(ANNOTATE))],
):
    """Record (or change) the signed-in user's label for a pair; changes keep their history."""
    check_text(settings, "rationale", body.rationale)
    pair = get_pair(session, pair_id=body.pair_id)
    if pair is None:
        raise HTTPException(404, f"no pair {body.pair_id}")
    annotator_id = user.annotator_id
    if annotator_id is None:
        annotator_id = annotator_crud.get_or_create_annotator(
            session, username=user.name, source="api"
        ).id
    judgment, outcome = crud.upsert_judgment(
        session,
        pair=pair,
        kind="human",
        judge=user.name,
        preferred=body.preferred,
        presentation_order=body.presentation_order,
        principle=body.principle,
        annotator_id=annotator_id,
        strength=body.strength,
        rationale=body.rationale,
        source="api",
    )
    return JudgmentCreated(judgment=JudgmentPublic.model_validate(judgment), outcome=outcome)
