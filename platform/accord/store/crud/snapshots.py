"""Keyword-only CRUD reads of snapshots and their examples (the API and the dashboard; building
a snapshot is ``accord.snapshots``).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.models import Snapshot
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     s.add(Snapshot(name="crud-v1", policy="human-only", content_hash="0" * 64)); s.flush()
...     get_snapshot(s, name="crud-v1").policy, "crud-v1" in other_snapshot_names(s, name="crud-v1")
('human-only', False)
"""

from __future__ import annotations

from sqlmodel import Session, select

from ..models import Snapshot, SnapshotExample
from .paging import equal_to, page


def get_snapshot(session: Session, *, name: str) -> Snapshot | None:
    return session.exec(select(Snapshot).where(Snapshot.name == name)).first()


def list_snapshots(
    session: Session, *, policy: str | None = None, offset: int = 0, limit: int = 100
) -> tuple[list[Snapshot], int]:
    """Snapshots (built with ``policy``), newest first, and their total."""
    return page(
        session,
        Snapshot,
        equal_to({Snapshot.policy: policy}),
        order_by=Snapshot.id.desc(),
        offset=offset,
        limit=limit,
    )


def other_snapshot_names(session: Session, *, name: str, limit: int = 200) -> list[str]:
    """Names of the newest snapshots other than ``name`` (what it can be compared with)."""
    return list(
        session.exec(
            select(Snapshot.name)
            .where(Snapshot.name != name)
            .order_by(Snapshot.id.desc())
            .limit(limit)
        ).all()
    )


def list_examples(
    session: Session,
    *,
    snapshot_id: int,
    split: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[SnapshotExample], int]:
    """A snapshot's examples (of one split) in their stored order, and their total."""
    conds = equal_to({SnapshotExample.snapshot_id: snapshot_id, SnapshotExample.split: split})
    return page(
        session,
        SnapshotExample,
        conds,
        order_by=SnapshotExample.position,
        offset=offset,
        limit=limit,
    )
