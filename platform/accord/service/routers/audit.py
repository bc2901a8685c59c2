"""Agreement: a live summary computed from the store, and the audit reports written by
``accord audit`` (JSON summary + plots) served from the reports folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from ...names import UnsafePathError, is_safe_name, path_under
from .. import agreement
from ..agreement import SERVED_SUFFIXES, agreement_summary, report_entry
from ..auth import READ_DATA
from ..deps import EngineDep, IdQuery, SettingsDep, allow

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(allow(READ_DATA))])


@router.get("/summary", summary="Agreement summary computed from the store")
def summary(
    engine: EngineDep,
    job_id: IdQuery = None,
    snapshot: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
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


@router.get("/reports", summary="Audit reports in the reports folder, newest first")
def list_reports(settings: SettingsDep) -> list[dict[str, Any]]:
    return agreement.list_reports(_reports_dir(settings))


@router.get("/reports/{name}", summary="One audit report: its summary and file list")
def show_report(name: str, settings: SettingsDep) -> dict[str, Any]:
    return report_entry(_report_dir(settings, name))


@router.get(
    "/reports/{name}/files/{path:path}",
    response_class=FileResponse,
    summary="A file of an audit report (plot, summary, HTML page)",
)
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
