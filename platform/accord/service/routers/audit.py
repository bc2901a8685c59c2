"""Agreement: a live summary computed from the store, and the audit reports written by
``accord audit`` (JSON summary + plots) served from the reports folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from ...names import UnsafePathError, is_safe_name, path_under
from ..auth import READ_DATA
from ..deps import EngineDep, IdQuery, SettingsDep, allow

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(allow(READ_DATA))])

SERVED_SUFFIXES = {".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
                   ".html": "text/html", ".csv": "text/csv", ".md": "text/markdown"}


def _value(estimate: dict[str, Any] | None) -> float | None:
    value = (estimate or {}).get("value")
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)


def agreement_summary(engine, *, job_id: IdQuery = None, snapshot: str | None = None,
                      n_resamples: int = 200) -> dict[str, Any]:
    """The audit's headline figures (``accord.audit``): counts, agreement between humans and
    each AI judge's agreement with the human majority, with bootstrap intervals."""
    from ...audit.bootstrap import BootstrapConfig
    from ...audit.loader import AuditScope
    from ...audit.report import AuditConfig, run_audit

    report = run_audit(engine, AuditScope(job_id=job_id, snapshot=snapshot),
                       config=AuditConfig(bootstrap=BootstrapConfig(n_resamples=n_resamples))).to_dict()
    counts, hh = report["counts"], report["human_human"]
    return {
        "scope": report["scope"], "judgments": counts["judgments"], "pairs": counts["pairs"],
        "human_judgments": counts["human_judgments"], "ai_judgments": counts["ai_judgments"],
        "humans": {"raters": hh.get("n_raters", 0), "alpha": _value(hh.get("alpha")),
                   "alpha_ci": hh.get("alpha"), "percent_agreement": _value(hh.get("agreement"))},
        "ai_judges": [
            {"judge": src["judge"], "principle": src["principle"],
             "constitution_hash": src["constitution"], "with_human_reference": src["n"],
             "agreement_with_humans": _value(src.get("agreement")),
             "kappa_with_humans": _value(src.get("kappa")), "agreement_ci": src.get("agreement")}
            for src in report["human_ai"].get("by_source", [])
        ],
        "position_consistency": report["position_consistency"],
    }


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
    if not is_safe_name(name):
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
    folders = [p for p in root.iterdir() if p.is_dir() and is_safe_name(p.name)]
    return [report_entry(p) for p in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)]


@router.get("/reports/{name}", summary="One audit report: its summary and file list")
def show_report(name: str, settings: SettingsDep) -> dict[str, Any]:
    return report_entry(_report_dir(settings, name))


@router.get("/reports/{name}/files/{path:path}", response_class=FileResponse,
            summary="A file of an audit report (plot, summary, HTML page)")
def report_file(name: str, path: str, settings: SettingsDep):
    folder = _report_dir(settings, name)
    try:
        if "\x00" in path:
            raise UnsafePathError("a NUL byte in a path")
        target = path_under(folder, path)
    except UnsafePathError:
        raise HTTPException(404, f"no file {path!r} in report {name!r}") from None
    if target == folder.resolve() or not target.is_file() or target.suffix not in SERVED_SUFFIXES:
        raise HTTPException(404, f"no file {path!r} in report {name!r}")
    return FileResponse(target, media_type=SERVED_SUFFIXES[target.suffix])
