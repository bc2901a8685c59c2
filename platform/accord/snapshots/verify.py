"""Tamper detection for snapshots: stored rows and exported files.

Stored: every example's hash is recomputed from the prompt and response rows it points to
(themselves re-hashed from their text) and the example's own fields, with the hash definition
the snapshot was built with (``manifest["hash_version"]``), and the snapshot digest from the
ordered example hashes. Exported: every file listed in ``manifest.json`` is re-hashed; with
the store at hand, the export must also be the store's snapshot (the one asked for, with the
store's digest) and every exported row must equal the store's: a file edited together with
its manifest's sha256 is still caught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

from ..store.keys import prompt_key, response_key
from ..store.models import Pair, Prompt, Response, SnapshotExample
from .build import example_hash, example_hash_v2, get_snapshot, hash_version_of, snapshot_hash
from .examples import ROW_COLUMNS, iter_examples
from .export import SPLITS, file_sha256


@dataclass
class VerifyReport:
    ok: bool = True
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        if len(self.problems) < 50:
            self.problems.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems}


def _response_hashes(engine: Engine, snapshot_id: int) -> dict[int, str]:
    """Recomputed content hash of every response the snapshot uses (text tampering shows)."""
    e, r, par, p = (
        SnapshotExample.__table__,
        Response.__table__,
        Response.__table__.alias("par"),
        Prompt.__table__,
    )
    ids = (
        select(e.c.chosen_id)
        .where(e.c.snapshot_id == snapshot_id)
        .union(select(e.c.rejected_id).where(e.c.snapshot_id == snapshot_id))
        .subquery()
    )
    q = (
        select(
            r.c.id,
            r.c.text,
            r.c.role,
            r.c.model_id,
            par.c.content_hash.label("parent_hash"),
            p.c.text.label("ptext"),
            p.c.messages,
        )
        .join(ids, ids.c[0] == r.c.id)
        .join(p, p.c.id == r.c.prompt_id)
        .outerjoin(par, par.c.id == r.c.parent_id)
    )
    out = {}
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            ph = prompt_key(row["ptext"], row["messages"])
            out[row["id"]] = response_key(
                ph,
                row["text"],
                role=row["role"],
                parent_hash=row["parent_hash"] or "",
                model_id=row["model_id"],
            )
    return out


def _detached_examples(engine: Engine, snapshot_id: int) -> list[int]:
    """Positions of examples whose prompt, chosen and rejected ids are not their pair's (the
    store keeps no foreign keys for these three: the pair implies them)."""
    e, pr = SnapshotExample.__table__.c, Pair.__table__.c
    same_sides = or_(
        and_(e.chosen_id == pr.response_a_id, e.rejected_id == pr.response_b_id),
        and_(e.chosen_id == pr.response_b_id, e.rejected_id == pr.response_a_id),
    )
    q = (
        select(e.position)
        .select_from(SnapshotExample.__table__.join(Pair.__table__, pr.id == e.pair_id))
        .where(e.snapshot_id == snapshot_id, ~and_(e.prompt_id == pr.prompt_id, same_sides))
        .order_by(e.position)
        .limit(20)
    )
    with engine.connect() as conn:
        return [int(x) for x in conn.execute(q).scalars()]


def verify_snapshot(engine: Engine, name: str) -> VerifyReport:
    from .demonstrations import is_demonstrations, verify_demonstration_snapshot

    snap = get_snapshot(engine, name)
    if is_demonstrations(snap):
        return verify_demonstration_snapshot(engine, name)
    report = VerifyReport()
    resp = _response_hashes(engine, snap.id)
    e, p = SnapshotExample.__table__, Prompt.__table__
    version = hash_version_of(snap.manifest)
    q = (
        select(
            e.c.position,
            e.c.example_hash,
            e.c.chosen_id,
            e.c.rejected_id,
            e.c.prob,
            e.c.tie,
            e.c.split,
            e.c.weight,
            e.c.label_source,
            e.c.n_labels,
            e.c.pair_id,
            p.c.text,
            p.c.messages,
        )
        .join(p, p.c.id == e.c.prompt_id)
        .where(e.c.snapshot_id == snap.id)
        .order_by(e.c.position)
    )
    hashes: list[str] = []
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            report.checked += 1
            parts = (
                prompt_key(row["text"], row["messages"]),
                resp[row["chosen_id"]],
                resp[row["rejected_id"]],
                row["prob"],
                row["tie"],
                row["split"],
            )
            expected = (
                example_hash(*parts)
                if version == 1
                else example_hash_v2(
                    *parts, row["weight"], row["label_source"], row["n_labels"], row["pair_id"]
                )
            )
            if expected != row["example_hash"]:
                report.fail(f"example {row['position']}: content does not match its hash")
            hashes.append(row["example_hash"])
    for position in _detached_examples(engine, snap.id):
        report.fail(f"example {position}: its prompt or responses are not its pair's")
    if report.checked != snap.n_train + snap.n_test:
        report.fail(f"{report.checked} examples stored, manifest says {snap.n_train + snap.n_test}")
    if snapshot_hash(snap.policy, snap.params, hashes) != snap.content_hash:
        report.fail(
            "snapshot digest does not match its examples (rows added, removed or reordered)"
        )
    if snap.manifest.get("content_hash") != snap.content_hash:
        report.fail("manifest content_hash differs from the snapshot's")
    return report


def _read_manifest(mpath: Path, report: VerifyReport) -> dict[str, Any] | None:
    if not mpath.is_file():
        report.fail(f"{mpath}: no manifest.json")
        return None
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        report.fail(f"{mpath}: not a readable JSON manifest ({exc})")
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        report.fail(f"{mpath}: not an export manifest (no 'files' object)")
        return None
    return manifest


def _exported_rows(out: Path, fmt: str, split: str):
    """The rows of one split of an export, as dicts of the exported columns."""
    if fmt == "trl":
        with open(out / f"{split}.jsonl", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(out / f"{split}.parquet").to_pylist()
    else:
        import datasets

        yield from datasets.load_from_disk(str(out))[split]


def _compare_rows(
    engine: Engine, snap_id: int, out: Path, manifest: dict[str, Any], report: VerifyReport
) -> None:
    """Every exported row against the store's row of the same split and position."""
    fmt, conversational = manifest.get("format", "trl"), bool(manifest.get("conversational"))
    columns = [c for c in ROW_COLUMNS if c != "split"]
    for split in SPLITS:
        where = out / {"trl": f"{split}.jsonl", "parquet": f"{split}.parquet"}.get(fmt, split)
        stored = iter_examples(engine, snap_id, split=split, conversational=conversational)
        try:
            exported = _exported_rows(out, fmt, split)
            n = 0
            for n, (mine, theirs) in enumerate(zip_longest(exported, stored), start=1):
                if mine is None or theirs is None:
                    report.fail(
                        f"{where}: {'fewer' if mine is None else 'more'} rows than the "
                        "store's snapshot"
                    )
                    break
                changed = [c for c in columns if mine.get(c) != theirs[c]]
                if changed:
                    report.fail(
                        f"{where}: row {n} differs from the store's snapshot ({', '.join(changed)})"
                    )
        except (OSError, ValueError, KeyError) as exc:
            report.fail(f"{where}: cannot be read ({exc})")


def verify_export(
    out_dir: str | Path, *, engine: Engine | None = None, name: str | None = None
) -> VerifyReport:
    """Check the files of an export against its manifest; with ``engine``, also against the
    store's snapshot (``name``, or the one the manifest names): same snapshot, same digest,
    the same rows."""
    out = Path(out_dir)
    report = VerifyReport()
    mpath = out / "manifest.json"
    manifest = _read_manifest(mpath, report)
    if manifest is None:
        return report
    for fname, info in manifest["files"].items():
        if "sha256" not in info:
            continue
        path = out / fname
        report.checked += 1
        if not path.exists():
            report.fail(f"{path}: missing")
        elif file_sha256(path) != info["sha256"]:
            report.fail(f"{path}: sha256 differs from manifest.json (file changed after export)")
    if name is not None and manifest.get("name") != name:
        report.fail(f"{mpath}: the export is of snapshot {manifest.get('name')!r}, not {name!r}")
    if engine is not None:
        snap = get_snapshot(engine, name if name is not None else str(manifest.get("name")))
        if snap.content_hash != manifest.get("content_hash"):
            report.fail(f"{mpath}: content_hash differs from the stored snapshot {snap.name!r}")
        from .demonstrations import is_demonstrations

        if is_demonstrations(snap):
            from .demonstration_export import compare_exported

            compare_exported(engine, snap.id, out, manifest, report)
        else:
            _compare_rows(engine, snap.id, out, manifest, report)
    return report
