"""Build an immutable, content-hashed snapshot from the store.

The same pairs, judgments, policy and options always give the same content hash (the
snapshot's name and creation time are not part of it). Examples are written in one
transaction: a failed build leaves nothing behind.

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.ingest import PreferenceIngestor, PreferenceRecord
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     record = PreferenceRecord(prompt="Q", chosen="good", rejected="bad")
...     _ = PreferenceIngestor(s).ingest([record])
>>> snap = create_snapshot(engine, name="demo", policy="human-over-ai", test_fraction=0.0)
>>> snap.n_train, len(snap.content_hash)
(1, 64)
"""

from __future__ import annotations

import hashlib
from itertools import repeat
from operator import methodcaller
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..hashing import canonical_json, sha256_hex
from ..names import InvalidNameError, check_name
from ..store.models import Pair, Prompt, Response, Snapshot, SnapshotExample
from ..store.models._base import utcnow
from .columns import fetch_columns
from .policies import POLICIES, PolicyParams, policy_problems, resolve
from .split import assign_split
from .votes import load_votes


class SnapshotError(ValueError):
    """A snapshot cannot be created or read as asked (clear message for the CLI)."""


# Which fields an example hash covers. A snapshot records the definition it was built with
# (``manifest["hash_version"]``; none recorded: 1), so snapshots built before a change still
# verify. 1: texts, prob, tie, split. 2: also weight, label_source, n_labels and pair_id, so
# every exported column is covered.
HASH_VERSION = 2
HASH_DEFINITIONS = {
    1: "sha256('prompt|chosen|rejected|prob:.6f|tie|split') over content hashes",
    2: "sha256('prompt|chosen|rejected|prob:.6f|tie|split|weight:.6f|label_source|n_labels|"
    "pair_id') over content hashes",
}


def example_hash(
    prompt_hash: str, chosen_hash: str, rejected_hash: str, prob: float, tie: bool, split: str
) -> str:
    """Definition 1 (snapshots without ``hash_version`` in their manifest)."""
    return sha256_hex(f"{prompt_hash}|{chosen_hash}|{rejected_hash}|{prob:.6f}|{int(tie)}|{split}")


def example_hash_v2(
    prompt_hash: str,
    chosen_hash: str,
    rejected_hash: str,
    prob: float,
    tie: bool,
    split: str,
    weight: float,
    label_source: str,
    n_labels: int,
    pair_id: int,
) -> str:
    """Definition 2: definition 1's fields plus weight, label_source, n_labels and pair_id."""
    return sha256_hex(
        f"{prompt_hash}|{chosen_hash}|{rejected_hash}|{prob:.6f}|{int(tie)}|{split}"
        f"|{weight:.6f}|{label_source}|{int(n_labels)}|{int(pair_id)}"
    )


def hash_version_of(manifest: dict[str, Any]) -> int:
    """The example-hash definition a snapshot was built with."""
    return int(manifest.get("hash_version", 1))


_HEXDIGEST = methodcaller("hexdigest")
_TIE_DIGIT = {False: "0", True: "1"}  # int(tie), as example_hash writes it


def snapshot_hash(policy: str, params: dict[str, Any], example_hashes: list[str]) -> str:
    h = hashlib.sha256(f"{policy}\n{canonical_json(params)}\n".encode())
    h.update("".join(example_hashes).encode())  # the same bytes as one update per example
    return h.hexdigest()


def example_hashes(
    prompt_hash: list[str],
    chosen_hash: list[str],
    rejected_hash: list[str],
    prob: list[float],
    tie: list[bool],
    split: list[str],
) -> list[str]:
    """``example_hash`` of every row, in one pass (no per-row call)."""
    # The same text as example_hash builds, joined from its parts by map in C.
    probs = map(format, prob, repeat(".6f"))
    ties = map(_TIE_DIGIT.__getitem__, tie)
    texts = map("|".join, zip(prompt_hash, chosen_hash, rejected_hash, probs, ties, split))
    return list(map(_HEXDIGEST, map(hashlib.sha256, map(str.encode, texts))))


def example_hashes_v2(
    prompt_hash: list[str],
    chosen_hash: list[str],
    rejected_hash: list[str],
    prob: list[float],
    tie: list[bool],
    split: list[str],
    weight: list[float],
    label_source: list[str],
    n_labels: list[int],
    pair_id: list[int],
) -> list[str]:
    """``example_hash_v2`` of every row, in one pass (no per-row call)."""
    probs = map(format, prob, repeat(".6f"))
    ties = map(_TIE_DIGIT.__getitem__, tie)
    weights = map(format, weight, repeat(".6f"))
    counts = map(str, map(int, n_labels))
    pairs = map(str, map(int, pair_id))
    texts = map(
        "|".join,
        zip(
            prompt_hash,
            chosen_hash,
            rejected_hash,
            probs,
            ties,
            split,
            weights,
            label_source,
            counts,
            pairs,
        ),
    )
    return list(map(_HEXDIGEST, map(hashlib.sha256, map(str.encode, texts))))


_PAIR_INTS = ("pair_id", "prompt_id", "response_a_id", "response_b_id")
_PAIR_TEXTS = ("prompt_hash", "split_group", "hash_a", "hash_b")


def _pair_columns(
    engine: Engine,
    *,
    source: str | None = None,
    job_id: int | None = None,
    pair_ids: list[int] | None = None,
) -> dict[str, np.ndarray]:
    """Pairs with the hashes the examples are keyed on: int64 ids, object arrays of hashes."""
    p, r_a, r_b, pr = (
        Pair.__table__,
        Response.__table__.alias("ra"),
        Response.__table__.alias("rb"),
        Prompt.__table__,
    )
    q = (
        sa_select(
            p.c.id.label("pair_id"),
            p.c.prompt_id,
            p.c.response_a_id,
            p.c.response_b_id,
            pr.c.content_hash.label("prompt_hash"),
            pr.c.split_group,
            r_a.c.content_hash.label("hash_a"),
            r_b.c.content_hash.label("hash_b"),
        )
        .join(pr, pr.c.id == p.c.prompt_id)
        .join(r_a, r_a.c.id == p.c.response_a_id)
        .join(r_b, r_b.c.id == p.c.response_b_id)
    )
    if source is not None:
        q = q.where(p.c.source == source)
    if job_id is not None:
        q = q.where(p.c.job_id == job_id)
    with engine.connect() as conn:
        raw = fetch_columns(conn, q)
    cols = {c: np.array(raw[c], dtype=np.int64) for c in _PAIR_INTS}
    for c in _PAIR_TEXTS:
        cols[c] = np.array(raw[c], dtype=object)
    if pair_ids is not None:
        keep = np.isin(cols["pair_id"], np.asarray(list(pair_ids), dtype=np.int64))
        cols = {c: v[keep] for c, v in cols.items()}
    return cols


def load_pairs(
    engine: Engine,
    *,
    source: str | None = None,
    job_id: int | None = None,
    pair_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Pairs with the hashes the examples are keyed on."""
    cols = _pair_columns(engine, source=source, job_id=job_id, pair_ids=pair_ids)
    return pd.DataFrame(
        {c: pd.Series(v, dtype=object) if v.dtype == object else v for c, v in cols.items()}
    )


def _audit_adjust(
    engine: Engine, votes: pd.DataFrame, params: PolicyParams
) -> tuple[pd.DataFrame, dict]:
    """Apply the audit-aware options; return the adjusted votes and the figures used."""
    figures: dict[str, Any] = {}
    if params.min_annotator_reliability is not None:
        from ..audit.policy import annotator_reliability

        rel = annotator_reliability(engine)
        low = {a for a, r in rel.items() if r is not None and r < params.min_annotator_reliability}
        figures["annotator_reliability"] = {str(a): r for a, r in rel.items()}
        figures["excluded_annotators"] = sorted(int(a) for a in low)
        votes = votes[~((votes.kind == "human") & votes.annotator_id.isin(list(low)))]
    if params.min_principle_agreement is not None:
        from ..audit.policy import principle_human_agreement

        agree = principle_human_agreement(engine)
        figures["principle_human_agreement"] = {f"{c}:{p}": a for (c, p), a in agree.items()}
        key = list(zip(votes.constitution_hash, votes.principle))
        score = np.array([agree.get(k, np.nan) for k in key], dtype=float)
        low = (votes.kind.to_numpy() == "ai") & (score < params.min_principle_agreement)
        if params.low_agreement_ai == "drop":
            votes = votes[~low]
        else:
            votes = votes.assign(weight=np.where(low, np.nan_to_num(score, nan=1.0), 1.0))
        figures["low_agreement_ai_votes"] = int(low.sum())
    return votes, figures


def create_snapshot(
    engine: Engine,
    *,
    name: str,
    policy: str,
    test_fraction: float = 0.1,
    seed: int = 0,
    params: PolicyParams | None = None,
    source: str | None = None,
    job_id: int | None = None,
    pair_ids: list[int] | None = None,
    allow_empty: bool = False,
    min_gold_accuracy: float | None = None,
) -> Snapshot:
    """Freeze the current resolution of pairs into a named snapshot (idempotent by content).

    ``source`` / ``job_id`` / ``pair_ids`` narrow the pairs considered. A snapshot with no
    example is refused before anything is written unless ``allow_empty``.
    ``min_gold_accuracy`` drops the labels of annotators below that accuracy on gold pairs
    (``accord.snapshots.gold_filter``; the manifest's ``gold`` says who and why).
    ``params.calibration`` maps a judge's AI votes through a stored calibration first
    (``accord.snapshots.calibrated_votes``; the manifest's ``calibration``).
    """
    params = params or PolicyParams()
    try:
        check_name(name, what="snapshot")
    except InvalidNameError as exc:
        raise SnapshotError(str(exc)) from None
    problems = policy_problems(policy, params)
    if problems:
        raise SnapshotError("; ".join(f"{field}: {msg}" for field, msg in problems))
    rule = POLICIES[policy]
    pairs = _pair_columns(engine, source=source, job_id=job_id, pair_ids=pair_ids)
    # Most policies never read a human vote's judge name (a million strings fewer to read).
    votes = load_votes(engine, human_details=rule.human_details)
    votes = votes[votes.pair_id.isin(pairs["pair_id"])]
    votes, audit_figures = _audit_adjust(engine, votes, params)
    sections: dict[str, Any] = {}
    if min_gold_accuracy is not None:
        from .gold_filter import exclude_low_gold_accuracy

        votes, sections["gold"] = exclude_low_gold_accuracy(engine, votes, min_gold_accuracy)
    if params.calibration is not None:
        from .calibrated_votes import apply_calibration

        try:
            votes, sections["calibration"] = apply_calibration(engine, votes, params.calibration)
        except ValueError as exc:
            raise SnapshotError(str(exc)) from None
    if rule.prepare is not None:
        votes, added = rule.prepare(engine, votes, params)
        sections.update(added)
    resolved = resolve(votes, policy, params)
    # Inner join of the pairs (in their order) with the labelled pairs (sorted by pair id).
    labelled = resolved.pair_id.to_numpy(np.int64)
    at = np.searchsorted(labelled, pairs["pair_id"]).clip(0, max(len(labelled) - 1, 0))
    hit = labelled[at] == pairs["pair_id"] if len(labelled) else np.zeros(len(at), bool)
    ex = {c: v[hit] for c, v in pairs.items()}
    at = at[hit]
    for c in ("p_a", "label_source", "n_labels", "weight"):
        ex[c] = resolved[c].to_numpy()[at]
    p_a = ex["p_a"].astype(float)
    tie = np.abs(p_a - 0.5) <= params.tie_band
    dropped_ties = int(tie.sum()) if not params.keep_ties else 0
    if not params.keep_ties:
        ex = {c: v[~tie] for c, v in ex.items()}
        p_a, tie = p_a[~tie], tie[~tie]
    a_wins = p_a >= 0.5
    ex.update(
        chosen_id=np.where(a_wins, ex["response_a_id"], ex["response_b_id"]),
        rejected_id=np.where(a_wins, ex["response_b_id"], ex["response_a_id"]),
        chosen_hash=np.where(a_wins, ex["hash_a"], ex["hash_b"]),
        rejected_hash=np.where(a_wins, ex["hash_b"], ex["hash_a"]),
        prob=np.round(np.where(a_wins, p_a, 1.0 - p_a), 6),
        tie=tie,
        split=assign_split(ex["split_group"], test_fraction=test_fraction, seed=seed),
    )
    hashes = example_hashes_v2(
        *(
            ex[c].tolist()
            for c in (
                "prompt_hash",
                "chosen_hash",
                "rejected_hash",
                "prob",
                "tie",
                "split",
                "weight",
                "label_source",
                "n_labels",
                "pair_id",
            )
        )
    )
    # Snapshot order: by example hash (64 hex digits each: one fixed-width byte string per
    # row, sorted by numpy). Rows stay
    # where they are (moving a million-row object column costs seconds); each gets its rank.
    keys = np.frombuffer("".join(hashes).encode("ascii"), dtype="S64")
    order = np.argsort(keys, kind="stable")
    # Every example hash in snapshot order, concatenated: what both digests cover.
    ordered = keys[order].tobytes().decode("ascii")
    n = len(order)
    ex["example_hash"] = np.array(hashes, dtype=object)
    ex["position"] = np.empty(n, dtype=np.int64)
    ex["position"][order] = np.arange(n, dtype=np.int64)
    if n == 0 and not allow_empty:
        raise SnapshotError(
            f"snapshot {name!r} would have no examples: no pair has a label under "
            f"the {policy!r} policy (label pairs first)"
        )
    recorded = {
        "test_fraction": test_fraction,
        "seed": seed,
        **params.recorded(),
        "source": source,
        "job_id": job_id,
    }
    if min_gold_accuracy is not None:  # recorded only when set: other hashes stay as they were
        recorded["min_gold_accuracy"] = min_gold_accuracy
    if pair_ids is not None:
        recorded["pair_ids_sha256"] = sha256_hex(",".join(map(str, sorted(set(pair_ids)))))
    digest = snapshot_hash(policy, recorded, [ordered])  # the same bytes as one hash per example
    existing = existing_snapshot(engine, name=name, content_hash=digest)
    if existing is not None:
        return existing
    n_train = int((ex["split"] == "train").sum())
    manifest = {
        "name": name,
        "policy": policy,
        "params": recorded,
        "content_hash": digest,
        "counts": {
            "examples": n,
            "train": n_train,
            "test": n - n_train,
            "pairs_considered": len(pairs["pair_id"]),
            "pairs_labelled": len(resolved),
            "dropped_ties": dropped_ties,
            "ties_kept": int(ex["tie"].sum()),
        },
        "source_mix": {
            k: int(v) for k, v in pd.Series(ex["label_source"], dtype=object).value_counts().items()
        },
        "examples_digest": sha256_hex(ordered),
        "hash_version": HASH_VERSION,
        "example_hash": HASH_DEFINITIONS[HASH_VERSION],
        "audit": audit_figures,
    }
    manifest.update(sections)
    if params.min_annotator_reliability is not None or params.min_principle_agreement is not None:
        from ..audit.policy import audit_summary_for_manifest

        manifest["audit"]["summary"] = audit_summary_for_manifest(
            engine, pair_ids=ex["pair_id"][order].tolist()
        )
    with Session(engine) as s:
        try:
            snap = Snapshot(
                name=name,
                policy=policy,
                content_hash=digest,
                n_train=n_train,
                n_test=n - n_train,
                params=recorded,
                manifest=manifest,
                created_at=utcnow(),
            )
            s.add(snap)
            s.flush()
            ex["snapshot_id"] = np.full(n, snap.id, dtype=np.int64)
            _insert_examples(s, ex)
            s.commit()
            s.refresh(snap)
        except BaseException:
            s.rollback()
            raise
    return snap


_EXAMPLE_COLUMNS = (
    "snapshot_id",
    "position",
    "example_hash",
    "pair_id",
    "prompt_id",
    "chosen_id",
    "rejected_id",
    "split",
    "prob",
    "tie",
    "label_source",
    "n_labels",
    "weight",
)


def _insert_examples(session: Session, ex: dict[str, np.ndarray]) -> None:
    """All examples in the snapshot's transaction, straight through the driver (plain ints,
    floats and strings: no per-row statement processing): COPY on PostgreSQL, executemany
    elsewhere. Constraints and foreign keys are checked either way.

    Rows go in by pair id, not by position: the table's indexes and the foreign-key checks
    then walk the pair, prompt and response tables in order instead of jumping about them
    (5.8x faster at 1M examples on SQLite). ``position`` carries the snapshot order.
    """
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    table, columns = (
        quote(SnapshotExample.__tablename__),
        ", ".join(quote(c) for c in _EXAMPLE_COLUMNS),
    )
    pair_id = ex["pair_id"]
    if len(pair_id) and not (np.diff(pair_id) > 0).all():  # pairs are usually read in id order
        by_pair = np.argsort(pair_id, kind="stable")
        ex = {c: ex[c][by_pair] for c in _EXAMPLE_COLUMNS}
    # tolist() gives Python ints, floats and bools (numpy scalars are not accepted everywhere).
    chunks = (
        zip(*(ex[c][i : i + 50_000].tolist() for c in _EXAMPLE_COLUMNS))
        for i in range(0, len(pair_id), 50_000)
    )
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for rows in chunks:
                    for row in rows:
                        copy.write_row(row)
        else:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            marks = ", ".join([mark] * len(_EXAMPLE_COLUMNS))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
            for rows in chunks:
                cursor.executemany(sql, rows)
    finally:
        cursor.close()


def existing_snapshot(engine: Engine, *, name: str, content_hash: str) -> Snapshot | None:
    """The stored snapshot ``name`` when it has exactly this content (a rerun), None when no
    snapshot has the name; a snapshot of that name with other content is refused: snapshots
    are immutable."""
    with Session(engine) as s:
        existing = s.exec(select(Snapshot).where(Snapshot.name == name)).first()
    if existing is None or existing.content_hash == content_hash:
        return existing
    raise SnapshotError(
        f"snapshot {name!r} already exists with different content "
        f"({existing.content_hash[:12]} ≠ {content_hash[:12]}); snapshots are immutable: "
        "pick a new name"
    )


def get_snapshot(engine: Engine, name: str) -> Snapshot:
    with Session(engine, expire_on_commit=False) as s:
        snap = s.exec(select(Snapshot).where(Snapshot.name == name)).first()
    if snap is None:
        raise SnapshotError(f"no snapshot named {name!r} (see `accord snapshot list`)")
    return snap


def list_snapshots(engine: Engine) -> list[Snapshot]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(select(Snapshot).order_by(Snapshot.id)).all())
