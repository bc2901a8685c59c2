"""Training runs are content-addressed: (kind, snapshot hash, config) → the finished run.

A recipe's training step asks ``find_finished_run`` before training; a completed run of the
same kind, on a snapshot with the same content hash, with the same configuration (bookkeeping
fields aside: run name, output folder, store URL, the snapshot's *name*) and whose model folder
is still on disk is reused instead of trained again. Runs started from the CLI count too.

The starting model is part of the config by id or folder path; a folder that is itself the
output of a reused run is the same folder, so reuse cascades along a recipe (SFT → DPO).

>>> comparable_config({"beta": 0.1, "run_name": "x", "output_dir": None, "snapshot": "a"})
{'beta': 0.1}
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..store.models import TrainingRun

# Fields that name or place a run rather than decide what it learns.
BOOKKEEPING = ("run_name", "output_dir", "db_url", "snapshot", "snapshot_name")


def _normal(value: Any) -> Any:
    """JSON-shaped value as the runs table stores it (non-finite floats dropped)."""
    if isinstance(value, dict):
        return {
            k: _normal(v)
            for k, v in value.items()
            if not (isinstance(v, float) and not math.isfinite(v))
        }
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a trainer config that decides the trained model."""
    kept = {k: v for k, v in config.items() if k not in BOOKKEEPING}
    return json.loads(json.dumps(_normal(kept), sort_keys=True, default=str))


def find_finished_run(
    engine: Engine, *, kind: str, snapshot_hash: str, config: dict[str, Any]
) -> TrainingRun | None:
    """The newest completed run with this kind, snapshot hash and config, whose artifacts
    exist (when the config saved a model); None when there is none."""
    wanted = comparable_config(config)
    with Session(engine, expire_on_commit=False) as session:
        runs = session.exec(
            select(TrainingRun)
            .where(
                TrainingRun.kind == kind,
                TrainingRun.snapshot_hash == snapshot_hash,
                TrainingRun.status == "completed",
            )
            .order_by(TrainingRun.id.desc())
        ).all()
    for run in runs:
        if comparable_config(run.config or {}) != wanted:
            continue
        if wanted.get("save_model", True) and not (
            run.artifact_path and Path(run.artifact_path).is_dir()
        ):
            continue
        return run
    return None


def run_record(run: TrainingRun, *, reused: bool, step: str, label: str = "") -> dict[str, Any]:
    """What the workflow steps pass on about a run (JSON-ready)."""
    return {
        "run_id": run.id,
        "kind": run.kind,
        "name": run.name,
        "reused": reused,
        "step": step,
        "label": label,
        "snapshot_hash": run.snapshot_hash,
        "artifact_path": run.artifact_path,
        "base_model": run.base_model,
        "ref_model": run.ref_model,
        "metrics": dict(run.metrics or {}),
        "warnings": list(run.warnings or []),
    }
