"""Which pairs go to annotators: every unlabelled pair by default, or a chosen slice.

Filters combine with AND: a job, a prompt source, a pair source, a snapshot, explicit pair
ids, or the pairs where judges disagree (from ``accord.audit.queue``). By default only pairs
without any human judgment are chosen; explicit ids and disagreements include labelled pairs
too, since asking again is their point.

>>> from accord.store.db import open_store
>>> select_pair_ids(open_store("sqlite://"), PairSelection())
[]
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import exists
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...store.models import Judgment, Pair, Prompt, Snapshot, SnapshotExample


@dataclass
class PairSelection:
    """A slice of the store's pairs to push."""

    job_id: int | None = field(default=None, metadata={"help": "Pairs made by this job."})
    prompt_source: str | None = field(default=None, metadata={"help": "Prompts from this source."})
    pair_source: str | None = field(default=None, metadata={"help": "Pairs with this source."})
    snapshot: str | None = field(default=None, metadata={"help": "Pairs in this snapshot (name)."})
    pair_ids: Sequence[int] | None = field(default=None, metadata={"help": "These pairs."})
    disagreements: bool = field(
        default=False, metadata={"help": "Pairs the audit queue flags (judges disagree)."}
    )
    unlabelled_only: bool | None = field(
        default=None,
        metadata={
            "help": "Only pairs without a human judgment (default: yes, except for "
            "explicit ids and disagreements)."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "At most this many pairs."})

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.pair_ids is not None:
            self.pair_ids = [int(i) for i in self.pair_ids]
        if self.unlabelled_only is None:
            self.unlabelled_only = self.pair_ids is None and not self.disagreements


def _disagreement_pair_ids(engine: Engine, limit: int | None) -> list[int]:
    """Pair ids from the audit's disagreement queue (imported here: an optional layer)."""
    try:
        from ...audit.queue import select_disagreements
    except ImportError as exc:
        raise RuntimeError(
            "selecting disagreements needs accord.audit.queue.select_disagreements, "
            f"which this installation lacks ({exc})"
        ) from exc
    kwargs = {}
    if limit is not None and "limit" in inspect.signature(select_disagreements).parameters:
        kwargs["limit"] = limit
    return _as_pair_ids(select_disagreements(engine, **kwargs))


def _as_pair_ids(items: Iterable) -> list[int]:
    """Accept pair ids, pairs, or rows carrying ``pair_id`` (attribute or key)."""
    ids = []
    for item in items:
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, dict):
            ids.append(int(item["pair_id"]))
        elif isinstance(item, Pair):
            ids.append(int(item.id))
        else:
            ids.append(int(item.pair_id))
    return ids


def select_pair_ids(engine: Engine, selection: PairSelection) -> list[int]:
    """Ids of the selected pairs, ascending (deterministic batches and resumable pushes)."""
    query = select(Pair.id)
    if selection.job_id is not None:
        query = query.where(Pair.job_id == selection.job_id)
    if selection.pair_source is not None:
        query = query.where(Pair.source == selection.pair_source)
    if selection.prompt_source is not None:
        query = query.join(Prompt, Prompt.id == Pair.prompt_id).where(
            Prompt.source == selection.prompt_source
        )
    if selection.snapshot is not None:
        with Session(engine) as session:
            snapshot = session.exec(
                select(Snapshot).where(Snapshot.name == selection.snapshot)
            ).first()
        if snapshot is None:
            raise ValueError(f"no snapshot named {selection.snapshot!r} in the store")
        query = query.where(
            Pair.id.in_(
                select(SnapshotExample.pair_id).where(SnapshotExample.snapshot_id == snapshot.id)
            )
        )
    wanted: list[int] | None = None
    if selection.pair_ids is not None:
        wanted = list(selection.pair_ids)
    if selection.disagreements:
        flagged = _disagreement_pair_ids(engine, selection.limit)
        wanted = flagged if wanted is None else sorted(set(wanted) & set(flagged))
    if selection.unlabelled_only:
        query = query.where(~exists().where(Judgment.pair_id == Pair.id, Judgment.kind == "human"))
    query = query.order_by(Pair.id)
    with Session(engine) as session:
        if wanted is None:
            if selection.limit is not None:
                query = query.limit(selection.limit)
            return list(session.exec(query).all())
        found: list[int] = []
        for start in range(0, len(wanted), 500):  # keep IN lists under SQLite's variable limit
            chunk = wanted[start : start + 500]
            found.extend(session.exec(query.where(Pair.id.in_(chunk))).all())
        found = sorted(set(found))
        missing = sorted(set(wanted) - set(found)) if selection.pair_ids is not None else []
        unknown = _unknown_pair_ids(session, missing)
        if unknown:
            raise ValueError(f"no pair with id {', '.join(map(str, unknown[:10]))} in the store")
    return found[: selection.limit] if selection.limit is not None else found


def _unknown_pair_ids(session: Session, ids: list[int]) -> list[int]:
    known: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        known.update(session.exec(select(Pair.id).where(Pair.id.in_(chunk))).all())
    return [i for i in ids if i not in known]
