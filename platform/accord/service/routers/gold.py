"""Gold pairs: ``GET /api/gold`` lists them, ``POST /api/gold`` adds them (engineer role).

A body is ``{"items": [...], "source": "..."}`` with items as in ``accord gold add``:
``{"prompt", "chosen", "rejected"}`` or ``{"pair_id", "answer"}``. All items are stored or
none; a bad one answers 422 naming its position (``item N``) and field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from ...formats.base import InvalidRecordError
from ...store.crud import gold as crud
from ...store.models import GoldPairCreate, GoldPairPublic, User
from ..auth import OPERATE, READ_OPS
from ..deps import EngineDep, PageDep, SessionDep, allow
from ..pages import Page, page_of

router = APIRouter(prefix="/gold", tags=["gold"])


@router.get("", response_model=Page[GoldPairPublic], dependencies=[Depends(allow(READ_OPS))])
def list_gold(session: SessionDep, page: PageDep):
    rows, total = crud.list_gold(session, offset=page.offset, limit=page.limit)
    return page_of(GoldPairPublic, rows, total, page)


@router.post("", status_code=201)
def add_gold(
    body: GoldPairCreate, engine: EngineDep, user: Annotated[User, Depends(allow(OPERATE))]
) -> dict[str, Any]:
    """Store the items as gold pairs (idempotent: adding them again changes nothing)."""
    from ...gold import add_gold_rows

    try:
        result = add_gold_rows(engine, body.items, origin="request", source=body.source)
    except InvalidRecordError as exc:
        raise HTTPException(422, f"item {exc.line}: field {exc.field!r}: {exc.reason}") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return result.to_dict()
