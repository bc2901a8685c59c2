"""Keyword-only CRUD for stored constitution versions."""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import ConstitutionRow
from .paging import equal_to, page


def upsert_constitution(
    session: Session,
    *,
    name: str,
    version: str,
    content_hash: str,
    text: str,
    description: str = "",
) -> ConstitutionRow:
    """Each constitution version is stored once, keyed by its content hash."""
    row = session.exec(
        select(ConstitutionRow).where(ConstitutionRow.content_hash == content_hash)
    ).first()
    if row is None:
        row = ConstitutionRow(
            name=name,
            version=version,
            content_hash=content_hash,
            text=text,
            description=description,
        )
        session.add(row)
        session.flush()
    return row


def get_constitution(
    session: Session, *, constitution_id: int | None = None, content_hash: str | None = None
) -> ConstitutionRow | None:
    if constitution_id is not None:
        return session.get(ConstitutionRow, constitution_id)
    return session.exec(
        select(ConstitutionRow).where(ConstitutionRow.content_hash == content_hash)
    ).first()


def list_constitutions(
    session: Session, *, name: str | None = None, offset: int = 0, limit: int = 100
) -> tuple[list[ConstitutionRow], int]:
    """Stored versions (of one ``name``), oldest first, and their total."""
    return page(
        session,
        ConstitutionRow,
        equal_to({ConstitutionRow.name: name}),
        order_by=ConstitutionRow.id,
        offset=offset,
        limit=limit,
    )
