"""Recompute the stored judgment keys with ``accord.store.keys.judgment_key``.

The judgment key gained the judgment's kind (a human annotator and a model judge of the same
name are two identities). Stores written before keep the old ``key_hash`` values, which the
write path would no longer find: re-importing their data would add every judgment again.
``rekey_judgments`` rewrites them in place, a chunk at a time; keys only get finer (the old
ones did not include the kind), so no two rows can collide. It is idempotent and meant to run
from a data migration (``rekey_judgments(op.get_bind())``) or by hand.

>>> from accord.store.db import open_store
>>> engine = open_store("sqlite://")
>>> with engine.begin() as conn:
...     rekey_judgments(conn)
0
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from .keys import judgment_key
from .models import Judgment, Pair

CHUNK = 10_000


def rekey_judgments(connection: Connection) -> int:
    """Set every judgment's ``key_hash`` to its current natural key; returns how many changed."""
    j, p = Judgment.__table__, Pair.__table__
    query = (
        select(
            j.c.id,
            j.c.key_hash,
            p.c.content_hash,
            j.c.judge,
            j.c.kind,
            j.c.presentation_order,
            j.c.principle,
            j.c.constitution_hash,
        )
        .join(p, p.c.id == j.c.pair_id)
        .order_by(j.c.id)
    )
    changed, last = 0, 0
    while True:
        rows = connection.execute(query.where(j.c.id > last).limit(CHUNK)).all()
        if not rows:
            return changed
        updates = []
        for row in rows:
            key = judgment_key(
                row.content_hash,
                row.judge,
                kind=row.kind,
                presentation_order=row.presentation_order,
                principle=row.principle,
                constitution_hash=row.constitution_hash,
            )
            if key != row.key_hash:
                updates.append({"row_id": row.id, "new_key": key})
        if updates:
            connection.execute(
                update(j)
                .where(j.c.id == bindparam("row_id"))
                .values(key_hash=bindparam("new_key")),
                updates,
            )
            changed += len(updates)
        last = rows[-1].id
