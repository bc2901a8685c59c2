"""One page of rows plus the total count: the shape every ``list_*`` CRUD function returns."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select


def equal_to(filters: dict[Any, Any]) -> list[Any]:
    """``column == value`` for every filter whose value is given (None means "any")."""
    return [column == value for column, value in filters.items() if value is not None]


def page(
    session: Session,
    model: Any,
    conds: list[Any],
    *,
    order_by: Any,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Any], int]:
    """Rows of ``model`` matching every condition in ``conds`` (ordered, sliced) and their total."""
    rows = session.exec(
        select(model).where(*conds).order_by(order_by).offset(offset).limit(limit)
    ).all()
    total = session.exec(select(func.count()).select_from(model).where(*conds)).one()
    return list(rows), total
