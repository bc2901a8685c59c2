"""Agreement: a live summary computed from the store, and the audit reports written by
``accord audit`` (JSON summary + plots) served from the reports folder."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from ..auth import READ_DATA
from ..deps import EngineDep, IdQuery, SettingsDep, allow

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(allow(READ_DATA))])

REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
SERVED_SUFFIXES = {".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
                   ".html": "text/html", ".csv": "text/csv", ".md": "text/markdown"}


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def agreement_summary(engine, *, job_id: IdQuery = None, snapshot: str | None = None) -> dict[str, Any]:
    """Counts, agreement between humans, and each AI judge's agreement with the humans."""
    from ...audit.loader import HUMAN, LABELS, AuditScope, load_audit_data
    from ...audit.metrics import cohen_kappa, krippendorff_alpha, percent_agreement

    data = load_audit_data(engine, AuditScope(job_id=job_id, snapshot=snapshot))
    kind = data.kind
    own = ~data.is_aggregate.astype(bool) if len(data.label) else np.zeros(0, bool)
    human = (kind == HUMAN) & own
    out: dict[str, Any] = {
        "scope": data.scope.to_dict(), "judgments": len(data.label),
        "pairs": len(data.pair_ids), "human_judgments": int(human.sum()),
        "ai_judgments": int(((kind != HUMAN) & own).sum()),
        "humans": {"raters": len(np.unique(data.source[human])), "alpha": None,
                   "percent_agreement": None},
        "ai_judges": [],
    }
    matrix = data.human_reliability_matrix()
    if matrix.shape[0] >= 2 and (np.sum(~np.isnan(matrix), axis=0) >= 2).any():
        out["humans"]["alpha"] = _num(krippendorff_alpha(matrix, level_of_measurement="nominal"))
        out["humans"]["percent_agreement"] = _num(percent_agreement(matrix))
    # Human majority per pair (ties between labels give no reference).
    majority: dict[int, int] = {}
    for pair in np.unique(data.pair[human]):
        counts = np.bincount(data.label[human & (data.pair == pair)], minlength=len(LABELS))
        if (counts == counts.max()).sum() == 1:
            majority[int(pair)] = int(counts.argmax())
    ai = (kind != HUMAN) & ~human
    for source in np.unique(data.source[ai]):
        rows = ai & (data.source == source)
        entry = {"judge": data.sources.judge[source], "principle": data.sources.principle[source],
                 "constitution_hash": data.sources.constitution_hash[source],
                 "judgments": int(rows.sum()), "with_human_reference": 0,
                 "agreement_with_humans": None, "kappa_with_humans": None}
        pairs, labels = data.pair[rows], data.label[rows]
        ref = np.array([majority.get(int(p), -1) for p in pairs])
        shared = ref >= 0
        entry["with_human_reference"] = int(shared.sum())
        if shared.any():
            entry["agreement_with_humans"] = _num(np.mean(labels[shared] == ref[shared]))
            if len(np.unique(np.concatenate([labels[shared], ref[shared]]))) > 1:
                entry["kappa_with_humans"] = _num(cohen_kappa(labels[shared], ref[shared]))
        out["ai_judges"].append(entry)
    return out


@router.get("/summary", summary="Agreement summary computed from the store")
def summary(engine: EngineDep, job_id: IdQuery = None,
            snapshot: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    if job_id is not None and snapshot is not None:
        raise HTTPException(422, "give job_id or snapshot, not both")
    try:
        return agreement_summary(engine, job_id=job_id, snapshot=snapshot)
    except ValueError as exc:  # unknown job or snapshot named in the scope
        raise HTTPException(404, str(exc)) from None


def _reports_dir(settings) -> Path:
    return Path(settings.reports_dir)


def _report_dir(settings, name: str) -> Path:
    if not REPORT_NAME.match(name):
        raise HTTPException(404, f"no report {name!r}")
    folder = _reports_dir(settings) / name
    if not folder.is_dir():
        raise HTTPException(404, f"no report {name!r}")
    return folder


def report_entry(folder: Path) -> dict[str, Any]:
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if p.is_file() and p.suffix in SERVED_SUFFIXES)
    summary_file = next((folder / f for f in ("summary.json", "report.json") if (folder / f).is_file()),
                        None)
    summary = None
    if summary_file is not None:
        try:
            summary = json.loads(summary_file.read_text())
        except (OSError, ValueError):
            summary = None
    return {"name": folder.name, "files": files,
            "plots": [f for f in files if f.endswith((".png", ".svg"))],
            "summary": summary, "modified": folder.stat().st_mtime}


@router.get("/reports", summary="Audit reports in the reports folder, newest first")
def list_reports(settings: SettingsDep) -> list[dict[str, Any]]:
    root = _reports_dir(settings)
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and REPORT_NAME.match(p.name)]
    return [report_entry(p) for p in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)]


@router.get("/reports/{name}", summary="One audit report: its summary and file list")
def show_report(name: str, settings: SettingsDep) -> dict[str, Any]:
    return report_entry(_report_dir(settings, name))


@router.get("/reports/{name}/files/{path:path}", response_class=FileResponse,
            summary="A file of an audit report (plot, summary, HTML page)")
def report_file(name: str, path: str, settings: SettingsDep):
    folder = _report_dir(settings, name).resolve()
    target = (folder / path).resolve()
    if folder not in target.parents or not target.is_file() or target.suffix not in SERVED_SUFFIXES:
        raise HTTPException(404, f"no file {path!r} in report {name!r}")
    return FileResponse(target, media_type=SERVED_SUFFIXES[target.suffix])
