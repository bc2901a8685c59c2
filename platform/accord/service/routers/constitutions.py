"""Stored constitution versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlmodel import func, select

from ...store.crud.constitutions import get_constitution
from ...store.models import ConstitutionPublic, ConstitutionRow
from ..auth import READ_DATA
from ..deps import IdPath, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/constitutions", tags=["constitutions"],
                   dependencies=[Depends(allow(READ_DATA))])


@router.get("", response_model=Page[ConstitutionPublic])
def list_constitutions(session: SessionDep, page: PageDep, name: str | None = None):
    conds = [ConstitutionRow.name == name] if name is not None else []
    rows = session.exec(select(ConstitutionRow).where(*conds).order_by(ConstitutionRow.id)
                        .offset(page.offset).limit(page.limit)).all()
    total = session.exec(select(func.count()).select_from(ConstitutionRow).where(*conds)).one()
    return page_of(ConstitutionPublic, rows, total, page)


@router.get("/{constitution_id}", response_model=ConstitutionPublic)
def show_constitution(constitution_id: IdPath, session: SessionDep):
    row = get_constitution(session, constitution_id=constitution_id)
    if row is None:
        raise HTTPException(404, f"no constitution {constitution_id}")
    return row
