"""Snapshots of human demonstrations: frozen (prompt, demonstration) examples for SFT.

``accord snapshot create NAME --kind demonstrations`` freezes every annotator's demonstration
in force (``accord.store.crud.demonstrations``: the newest revision, not withdrawn) into a
snapshot whose policy is ``demonstrations`` and whose manifest says ``"kind":
"demonstrations"``. Like a preference snapshot it is immutable and content-hashed (the same
demonstrations, split options and filters give the same hash; a name holds one content),
split leak-free by prompt (every demonstration of a prompt, whoever wrote it, falls on one
side; ``accord.snapshots.split``), and ``accord snapshot verify`` re-hashes every example from
the prompt and response rows. Its examples live in ``snapshot_demonstration``.

Exports (``accord.snapshots.demonstration_export``) are TRL's SFT formats: ``--format
messages`` (a ``messages`` column: user turn(s), then the assistant's demonstration) and
``--format trl`` (``prompt`` / ``completion``; with ``--conversational`` as message lists).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.annotators import get_or_create_annotator
>>> from accord.store.crud.demonstrations import upsert_demonstration
>>> from accord.store.crud.prompts import upsert_prompt
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     alice = get_or_create_annotator(s, username="alice")
...     for q in ("Say hi.", "Say bye."):
...         _ = upsert_demonstration(s, prompt=upsert_prompt(s, text=q), annotator=alice,
...                                  text=q.replace("Say ", "").capitalize(), source="doc")
>>> snap = create_demonstration_snapshot(engine, name="demos", test_fraction=0.0)
>>> snap.policy, snap.n_train, snap.manifest["kind"]
('demonstrations', 2, 'demonstrations')
>>> verify_demonstration_snapshot(engine, "demos").ok
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..hashing import sha256_hex
from ..names import InvalidNameError, check_name
from ..store.crud.demonstrations import demonstrations_in_force
from ..store.keys import prompt_key, response_key
from ..store.models import Annotator, Prompt, Response, Snapshot, SnapshotDemonstration
from ..store.models._base import utcnow
from .build import SnapshotError, existing_snapshot, get_snapshot, snapshot_hash
from .split import assign_split

KIND = "demonstrations"  # the snapshot kind, its policy and its manifest["kind"]
SNAPSHOT_KINDS = ("preferences", KIND)
EXAMPLE_HASH = "sha256('demonstration|prompt|response|split|author') over content hashes"


def is_demonstrations(snap: Snapshot | dict[str, Any]) -> bool:
    """Whether a snapshot (or its manifest) holds demonstrations rather than preferences."""
    manifest = snap if isinstance(snap, dict) else snap.manifest
    return (manifest or {}).get("kind") == KIND


def demonstration_example_hash(
    prompt_hash: str, response_hash: str, split: str, author: str
) -> str:
    return sha256_hex(f"demonstration|{prompt_hash}|{response_hash}|{split}|{author}")


def _rows(engine: Engine, source: str | None, prompt_source: str | None) -> list[dict[str, Any]]:
    """The demonstrations in force with their prompt's hashes and their author's name."""
    with Session(engine) as session:
        found = demonstrations_in_force(session, source=source)
        prompts = {
            p.id: p
            for p in session.exec(
                select(Prompt).where(Prompt.id.in_({r.prompt_id for r in found}))
            ).all()
        }
        names = dict(session.exec(select(Annotator.id, Annotator.username)).all())
        rows = []
        for r in found:
            prompt = prompts[r.prompt_id]
            if prompt_source is not None and prompt.source != prompt_source:
                continue
            rows.append(
                {
                    "prompt_id": prompt.id,
                    "response_id": r.id,
                    "prompt_hash": prompt.content_hash,
                    "split_group": prompt.split_group,
                    "response_hash": r.content_hash,
                    "author": names.get(r.annotator_id) or r.model_id,
                }
            )
    return rows


def create_demonstration_snapshot(
    engine: Engine,
    *,
    name: str,
    test_fraction: float = 0.1,
    seed: int = 0,
    source: str | None = None,
    prompt_source: str | None = None,
    allow_empty: bool = False,
) -> Snapshot:
    """Freeze the human demonstrations in force into a named snapshot (idempotent by content).

    ``source`` keeps the demonstrations from one origin (``argilla:<dataset>``),
    ``prompt_source`` those of prompts with that source. An empty snapshot is refused before
    anything is written unless ``allow_empty``.
    """
    try:
        check_name(name, what="snapshot")
    except InvalidNameError as exc:
        raise SnapshotError(str(exc)) from None
    if not 0.0 <= test_fraction < 1.0:
        raise SnapshotError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rows = _rows(engine, source, prompt_source)
    if not rows and not allow_empty:
        raise SnapshotError(
            f"snapshot {name!r} would have no examples: the store holds no human demonstration"
            + (f" from {source!r}" if source else "")
            + " (collect some with `accord argilla push --mode demonstration`, then pull)"
        )
    splits = assign_split([r["split_group"] for r in rows], test_fraction=test_fraction, seed=seed)
    for row, split in zip(rows, splits, strict=True):
        row["split"] = str(split)
        row["example_hash"] = demonstration_example_hash(
            row["prompt_hash"], row["response_hash"], row["split"], row["author"]
        )
    rows.sort(key=lambda r: r["example_hash"])
    recorded = {
        "test_fraction": test_fraction,
        "seed": seed,
        "source": source,
        "prompt_source": prompt_source,
    }
    hashes = [r["example_hash"] for r in rows]
    digest = snapshot_hash(KIND, recorded, hashes)
    existing = existing_snapshot(engine, name=name, content_hash=digest)
    if existing is not None:
        return existing
    n_train = sum(r["split"] == "train" for r in rows)
    manifest = {
        "name": name,
        "kind": KIND,
        "policy": KIND,
        "params": recorded,
        "content_hash": digest,
        "counts": {
            "examples": len(rows),
            "train": n_train,
            "test": len(rows) - n_train,
            "prompts": len({r["prompt_id"] for r in rows}),
            "authors": len({r["author"] for r in rows}),
        },
        "authors": dict(sorted(Counter(r["author"] for r in rows).items())),
        "source_mix": {"human": len(rows)} if rows else {},
        "examples_digest": sha256_hex("".join(hashes)),
        "example_hash": EXAMPLE_HASH,
        "sft_formats": {
            "messages": "--format messages: messages = [user turn(s), assistant demonstration]",
            "prompt-completion": "--format trl: prompt / completion (--conversational: "
            "message lists)",
        },
    }
    with Session(engine) as s:
        try:
            snap = Snapshot(
                name=name,
                policy=KIND,
                content_hash=digest,
                n_train=n_train,
                n_test=len(rows) - n_train,
                params=recorded,
                manifest=manifest,
                created_at=utcnow(),
            )
            s.add(snap)
            s.flush()
            for position, r in enumerate(rows):
                s.add(
                    SnapshotDemonstration(
                        snapshot_id=snap.id,
                        position=position,
                        example_hash=r["example_hash"],
                        prompt_id=r["prompt_id"],
                        response_id=r["response_id"],
                        split=r["split"],
                        author=r["author"],
                    )
                )
            s.commit()
            s.refresh(snap)
        except BaseException:
            s.rollback()
            raise
    return snap


DEMONSTRATION_COLUMNS = ("prompt", "completion", "author", "source", "response_id", "example_hash")


def iter_demonstrations(
    engine: Engine, snapshot_id: int, *, split: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows ``prompt`` (text), ``prompt_messages`` (the prompt's chat messages or None),
    ``completion`` (the demonstration), ``author``, ``source``, ``response_id``,
    ``example_hash`` and ``split``, in snapshot order."""
    d, p, r = SnapshotDemonstration.__table__, Prompt.__table__, Response.__table__
    q = (
        sa_select(
            p.c.text,
            p.c.messages,
            r.c.text,
            d.c.author,
            r.c.source,
            d.c.response_id,
            d.c.example_hash,
            d.c.split,
        )
        .join(p, p.c.id == d.c.prompt_id)
        .join(r, r.c.id == d.c.response_id)
        .where(d.c.snapshot_id == snapshot_id)
        .order_by(d.c.position)
    )
    if split is not None:
        q = q.where(d.c.split == split)
    with engine.connect() as conn:
        for row in conn.execute(q):
            yield {
                "prompt": row[0],
                "prompt_messages": row[1] or None,
                "completion": row[2],
                "author": row[3],
                "source": row[4] or "",
                "response_id": int(row[5]),
                "example_hash": row[6],
                "split": row[7],
            }


def verify_demonstration_snapshot(engine: Engine, name: str):
    """Every example re-hashed from its prompt and response rows (texts re-hashed too), the
    digest from the ordered example hashes, the counts against the manifest."""
    from .verify import VerifyReport

    snap = get_snapshot(engine, name)
    report = VerifyReport()
    d, p, r = SnapshotDemonstration.__table__, Prompt.__table__, Response.__table__
    par = Response.__table__.alias("par")
    q = (
        sa_select(
            d.c.position,
            d.c.example_hash,
            d.c.split,
            d.c.author,
            d.c.prompt_id,
            r.c.prompt_id.label("response_prompt_id"),
            r.c.role,
            r.c.model_id,
            r.c.text.label("rtext"),
            par.c.content_hash.label("parent_hash"),
            p.c.text,
            p.c.messages,
        )
        .join(p, p.c.id == d.c.prompt_id)
        .join(r, r.c.id == d.c.response_id)
        .outerjoin(par, par.c.id == r.c.parent_id)
        .where(d.c.snapshot_id == snap.id)
        .order_by(d.c.position)
    )
    hashes: list[str] = []
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            report.checked += 1
            prompt_hash = prompt_key(row["text"], row["messages"])
            response_hash = response_key(
                prompt_hash,
                row["rtext"],
                role=row["role"],
                parent_hash=row["parent_hash"] or "",
                model_id=row["model_id"],
            )
            expected = demonstration_example_hash(
                prompt_hash, response_hash, row["split"], row["author"]
            )
            if expected != row["example_hash"]:
                report.fail(f"example {row['position']}: content does not match its hash")
            if row["prompt_id"] != row["response_prompt_id"]:
                report.fail(f"example {row['position']}: its demonstration answers another prompt")
            hashes.append(row["example_hash"])
    if report.checked != snap.n_train + snap.n_test:
        report.fail(f"{report.checked} examples stored, manifest says {snap.n_train + snap.n_test}")
    if snapshot_hash(snap.policy, snap.params, hashes) != snap.content_hash:
        report.fail(
            "snapshot digest does not match its examples (rows added, removed or reordered)"
        )
    if snap.manifest.get("content_hash") != snap.content_hash:
        report.fail("manifest content_hash differs from the snapshot's")
    return report


__all__ = [
    "KIND",
    "SNAPSHOT_KINDS",
    "create_demonstration_snapshot",
    "is_demonstrations",
    "iter_demonstrations",
    "verify_demonstration_snapshot",
]
