"""Tamper detection for snapshots: stored rows and exported files.

Stored: every example's hash is recomputed from the prompt and response rows it points to
(themselves re-hashed from their text), and the snapshot digest from the ordered example
hashes. Exported: every file listed in ``manifest.json`` is re-hashed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.keys import prompt_key, response_key
from ..store.models import Prompt, Response, SnapshotExample
from .build import example_hash, get_snapshot, snapshot_hash
from .export import file_sha256


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
    e, r, par, p = (SnapshotExample.__table__, Response.__table__, Response.__table__.alias("par"),
                    Prompt.__table__)
    ids = select(e.c.chosen_id).where(e.c.snapshot_id == snapshot_id).union(
        select(e.c.rejected_id).where(e.c.snapshot_id == snapshot_id)).subquery()
    q = (select(r.c.id, r.c.text, r.c.role, r.c.model_id, par.c.content_hash.label("parent_hash"),
                p.c.text.label("ptext"), p.c.messages)
         .join(ids, ids.c[0] == r.c.id).join(p, p.c.id == r.c.prompt_id)
         .outerjoin(par, par.c.id == r.c.parent_id))
    out = {}
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            ph = prompt_key(row["ptext"], row["messages"])
            out[row["id"]] = response_key(ph, row["text"], role=row["role"],
                                          parent_hash=row["parent_hash"] or "", model_id=row["model_id"])
    return out


def verify_snapshot(engine: Engine, name: str) -> VerifyReport:
    snap = get_snapshot(engine, name)
    report = VerifyReport()
    resp = _response_hashes(engine, snap.id)
    e, p = SnapshotExample.__table__, Prompt.__table__
    q = (select(e.c.position, e.c.example_hash, e.c.chosen_id, e.c.rejected_id, e.c.prob, e.c.tie,
                e.c.split, p.c.text, p.c.messages)
         .join(p, p.c.id == e.c.prompt_id).where(e.c.snapshot_id == snap.id).order_by(e.c.position))
    hashes: list[str] = []
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            report.checked += 1
            expected = example_hash(prompt_key(row["text"], row["messages"]), resp[row["chosen_id"]],
                                    resp[row["rejected_id"]], row["prob"], row["tie"], row["split"])
            if expected != row["example_hash"]:
                report.fail(f"example {row['position']}: content does not match its hash")
            hashes.append(row["example_hash"])
    if report.checked != snap.n_train + snap.n_test:
        report.fail(f"{report.checked} examples stored, manifest says {snap.n_train + snap.n_test}")
    if snapshot_hash(snap.policy, snap.params, hashes) != snap.content_hash:
        report.fail("snapshot digest does not match its examples (rows added, removed or reordered)")
    if snap.manifest.get("content_hash") != snap.content_hash:
        report.fail("manifest content_hash differs from the snapshot's")
    return report


def verify_export(out_dir: str | Path, *, engine: Engine | None = None) -> VerifyReport:
    """Check the files of an export against its manifest (and the store's snapshot, if given)."""
    out = Path(out_dir)
    report = VerifyReport()
    mpath = out / "manifest.json"
    if not mpath.exists():
        report.fail(f"{mpath}: no manifest.json")
        return report
    manifest = json.loads(mpath.read_text())
    for fname, info in manifest.get("files", {}).items():
        if "sha256" not in info:
            continue
        path = out / fname
        report.checked += 1
        if not path.exists():
            report.fail(f"{path}: missing")
        elif file_sha256(path) != info["sha256"]:
            report.fail(f"{path}: sha256 differs from manifest.json (file changed after export)")
    if engine is not None:
        snap = get_snapshot(engine, manifest["name"])
        if snap.content_hash != manifest.get("content_hash"):
            report.fail("export manifest content_hash differs from the stored snapshot")
    return report
