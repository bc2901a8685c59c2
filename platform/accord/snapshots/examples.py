"""Reading a snapshot's examples back with their texts, in snapshot order, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.models import Prompt, Response, SnapshotExample

EXAMPLE_COLUMNS = ("prompt", "chosen", "rejected", "score", "tie", "label_source", "n_labels",
                   "weight", "pair_id", "example_hash", "chosen_role", "rejected_role")


def iter_examples(engine: Engine, snapshot_id: int, *, split: str | None = None,
                  conversational: bool = False, chunk: int = 10_000) -> Iterator[dict[str, Any]]:
    """Rows ``prompt, chosen, rejected, score, …`` (TRL's preference columns first).

    ``conversational``: prompt as a message list and chosen/rejected as assistant turns
    (TRL's conversational form); otherwise plain text.
    """
    e, p = SnapshotExample.__table__, Prompt.__table__
    rc, rr = Response.__table__.alias("rc"), Response.__table__.alias("rr")
    q = (select(e.c.split, e.c.prob, e.c.tie, e.c.label_source, e.c.n_labels, e.c.weight,
                e.c.pair_id, e.c.example_hash, p.c.text.label("prompt"),
                p.c.messages.label("prompt_messages"), rc.c.text.label("chosen"),
                rr.c.text.label("rejected"), rc.c.role.label("chosen_role"),
                rr.c.role.label("rejected_role"))
         .join(p, p.c.id == e.c.prompt_id)
         .join(rc, rc.c.id == e.c.chosen_id)
         .join(rr, rr.c.id == e.c.rejected_id)
         .where(e.c.snapshot_id == snapshot_id)
         .order_by(e.c.position))
    if split is not None:
        q = q.where(e.c.split == split)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(q)
        for row in result.mappings():
            if conversational:
                prompt: Any = row["prompt_messages"] or [{"role": "user", "content": row["prompt"]}]
                chosen: Any = [{"role": "assistant", "content": row["chosen"]}]
                rejected: Any = [{"role": "assistant", "content": row["rejected"]}]
            else:
                prompt, chosen, rejected = row["prompt"], row["chosen"], row["rejected"]
            yield {
                "prompt": prompt, "chosen": chosen, "rejected": rejected,
                "score": row["prob"], "tie": bool(row["tie"]), "label_source": row["label_source"],
                "n_labels": row["n_labels"], "weight": row["weight"], "pair_id": row["pair_id"],
                "example_hash": row["example_hash"], "chosen_role": row["chosen_role"],
                "rejected_role": row["rejected_role"], "split": row["split"],
            }
