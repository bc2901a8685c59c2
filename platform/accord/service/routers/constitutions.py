"""Stored constitution versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from ...store.crud.constitutions import get_constitution
from ...store.crud.constitutions import list_constitutions as list_rows
from ...store.models import ConstitutionPublic
from ..auth import READ_DATA
from ..deps import IdPath, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(
    prefix="/constitutions", tags=["constitutions"], dependencies=[Depends(allow(READ_DATA))]
)


@router.get("", response_model=Page[ConstitutionPublic])
def list_constitutions(session: SessionDep, page: PageDep, name: str | None = None):
    rows, total = list_rows(session, name=name, offset=page.offset, limit=page.limit)
    return page_of(ConstitutionPublic, rows, total, page)


@router.get("/{constitution_id}", response_model=ConstitutionPublic)
def show_constitution(constitution_id: IdPath, session: SessionDep):
    row = get_constitution(session, constitution_id=constitution_id)
    if row is None:
        raise HTTPException(404, f"no constitution {constitution_id}")
    return row
