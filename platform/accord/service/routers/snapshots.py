"""Snapshots: list, show (with manifest), examples, create (a queued job), diff, verify and
export download (a zip of the export folder)."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse
from sqlmodel import Session
from starlette.background import BackgroundTask

from ...names import is_safe_name
from ...store.crud import snapshots as crud
from ...store.models import (
    JobPublic,
    Snapshot,
    SnapshotCreate,
    SnapshotExamplePublic,
    SnapshotPublic,
    SnapshotVerifyPublic,
    User,
)
from ..auth import OPERATE, READ_OPS
from ..deps import EngineDep, PageDep, SessionDep, SettingsDep, allow
from ..pages import Page, page_of
from .jobs import enqueue

router = APIRouter(prefix="/snapshots", tags=["snapshots"])


def snapshot_or_404(session: Session, name: str) -> Snapshot:
    snap = crud.get_snapshot(session, name=name)
    if snap is None:
        raise HTTPException(404, f"no snapshot named {name!r}")
    return snap


@router.get("", response_model=Page[SnapshotPublic], dependencies=[Depends(allow(READ_OPS))])
def list_snapshots(
    session: SessionDep, page: PageDep, policy: Annotated[str | None, Query(max_length=50)] = None
):
    rows, total = crud.list_snapshots(session, policy=policy, offset=page.offset, limit=page.limit)
    return page_of(SnapshotPublic, rows, total, page)


@router.post("", response_model=JobPublic, status_code=202)
def create_snapshot(
    body: SnapshotCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(allow(OPERATE))],
):
    """Queue a ``snapshot`` job; the snapshot appears when the job succeeds."""
    if crud.get_snapshot(session, name=body.name) is not None:
        raise HTTPException(409, f"a snapshot named {body.name!r} already exists")
    return enqueue(
        session,
        kind="snapshot",
        name=body.name,
        config=body.model_dump(),
        user=user,
        settings=settings,
    )


@router.get("/{name}", response_model=SnapshotPublic, dependencies=[Depends(allow(READ_OPS))])
def show_snapshot(name: str, session: SessionDep):
    return snapshot_or_404(session, name)


@router.get(
    "/{name}/examples",
    response_model=Page[SnapshotExamplePublic],
    dependencies=[Depends(allow(READ_OPS))],
)
def snapshot_examples(
    name: str,
    session: SessionDep,
    page: PageDep,
    split: Annotated[Literal["train", "test"] | None, Query()] = None,
):
    snap = snapshot_or_404(session, name)
    rows, total = crud.list_examples(
        session, snapshot_id=snap.id, split=split, offset=page.offset, limit=page.limit
    )
    return page_of(SnapshotExamplePublic, rows, total, page)


@router.get(
    "/{name}/verify", response_model=SnapshotVerifyPublic, dependencies=[Depends(allow(READ_OPS))]
)
def verify(name: str, session: SessionDep, engine: EngineDep):
    """Recompute every example's hash and the snapshot digest from the store."""
    from ...snapshots import verify_snapshot

    snapshot_or_404(session, name)
    report = verify_snapshot(engine, name)
    return SnapshotVerifyPublic(name=name, **report.as_dict())


@router.get("/{name}/diff/{other}", dependencies=[Depends(allow(READ_OPS))])
def diff(
    name: str,
    other: str,
    session: SessionDep,
    engine: EngineDep,
    sample: Annotated[int, Query(ge=0, le=100)] = 10,
) -> dict[str, Any]:
    """What changed from snapshot ``name`` to ``other``: added, removed, flipped, re-weighted."""
    from ...snapshots import diff_snapshots

    snapshot_or_404(session, name)
    snapshot_or_404(session, other)
    return diff_snapshots(engine, name, other, sample=sample)


@router.get(
    "/{name}/export",
    dependencies=[Depends(allow(READ_OPS))],
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "The export folder (files + manifest.json) as a zip",
        }
    },
)
def export(
    name: str,
    session: SessionDep,
    engine: EngineDep,
    fmt: Annotated[Literal["trl", "parquet", "hf"], Query()] = "trl",
    conversational: bool = False,
):
    from ...snapshots import FORMATS, export_snapshot

    snapshot_or_404(session, name)
    if fmt not in FORMATS:
        raise HTTPException(422, f"fmt must be one of {', '.join(FORMATS)}")
    workdir = Path(tempfile.mkdtemp(prefix="accord-export-"))
    try:
        # Stored names are safe; an older free-text one gets a neutral folder name.
        folder = workdir / (name if is_safe_name(name) else "snapshot")
        export_snapshot(engine, name=name, fmt=fmt, out_dir=folder, conversational=conversational)
        archive = workdir / f"{folder.name}-{fmt}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=archive.name,
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
