"""Training runs in the store: every model traces back to the snapshot hash it learned from.

Keyword-only CRUD for the ``training_run`` and ``run_metric`` tables, plus ``RunRecorder``,
which a trainer holds for the life of a run (one row per logged step, final metrics, warnings,
status and artifact path at the end).

>>> from accord.store.db import open_store
>>> from accord.train.runs import RunRecorder, get_run
>>> engine = open_store("sqlite://")
>>> rec = RunRecorder.start(engine, kind="dpo", snapshot_hash="ab" * 32, base_model="accord/tiny")
>>> rec.log(1, {"loss": 0.69})
>>> _ = rec.finish(metrics={"loss": 0.5})
>>> from accord.store.db import session_scope
>>> with session_scope(engine) as s:
...     get_run(s, run="1").status
'completed'
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from accord.store.db import session_scope
from accord.store.models import RunMetric, TrainingRun
from accord.store.models._base import utcnow

RUN_KINDS = ("sft", "rm", "dpo", "ppo", "rloo", "grpo")


def git_revision(cwd: str | Path | None = None) -> str:
    """``git rev-parse HEAD`` of the code that runs, or "" outside a git checkout."""
    folder = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe metric values: numbers as floats, NaN/inf dropped (JSON has no spelling for
    them)."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, bool) or value is None or isinstance(value, str):
            clean[key] = value
        elif isinstance(value, int | float):
            if math.isfinite(float(value)):
                clean[key] = float(value) if isinstance(value, float) else value
        elif isinstance(value, dict | list):
            clean[key] = value
        else:
            clean[key] = str(value)
    return clean


def create_run(
    session: Session,
    *,
    kind: str,
    snapshot_hash: str,
    base_model: str,
    ref_model: str = "",
    config: dict[str, Any] | None = None,
    name: str = "",
    snapshot_id: int | None = None,
    artifact_path: str = "",
    revision: str | None = None,
) -> TrainingRun:
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}")
    run = TrainingRun(
        kind=kind,
        name=name,
        snapshot_hash=snapshot_hash,
        snapshot_id=snapshot_id,
        base_model=base_model,
        ref_model=ref_model,
        config=_clean(config or {}),
        artifact_path=artifact_path,
        git_revision=git_revision() if revision is None else revision,
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, *, run: str | int) -> TrainingRun:
    """A run by id or by name (the newest with that name); ``LookupError`` when none."""
    found = None
    if isinstance(run, int) or str(run).isdigit():
        found = session.get(TrainingRun, int(run))
    if found is None:
        found = session.exec(
            select(TrainingRun).where(TrainingRun.name == str(run)).order_by(TrainingRun.id.desc())
        ).first()
    if found is None:
        raise LookupError(f"no training run with id or name {run!r}")
    return found


def list_runs(session: Session, *, kind: str | None = None, limit: int = 100) -> list[TrainingRun]:
    query = select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)
    if kind:
        query = query.where(TrainingRun.kind == kind)
    return list(session.exec(query).all())


def log_metric(session: Session, *, run_id: int, step: int, values: dict[str, Any]) -> RunMetric:
    """Record the instruments of one step; logging a step twice merges the values."""
    row = session.exec(
        select(RunMetric).where(RunMetric.run_id == run_id, RunMetric.step == step)
    ).first()
    if row is None:
        row = RunMetric(run_id=run_id, step=step, values=_clean(values))
    else:
        row.values = {**row.values, **_clean(values)}
    session.add(row)
    session.flush()
    return row


def list_metrics(session: Session, *, run_id: int) -> list[RunMetric]:
    return list(
        session.exec(
            select(RunMetric).where(RunMetric.run_id == run_id).order_by(RunMetric.step)
        ).all()
    )


def finish_run(
    session: Session,
    *,
    run_id: int,
    status: str = "completed",
    metrics: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    error: str | None = None,
    artifact_path: str | None = None,
) -> TrainingRun:
    run = session.get(TrainingRun, run_id)
    if run is None:
        raise LookupError(f"no training run {run_id}")
    run.status = status
    run.metrics = {**run.metrics, **_clean(metrics or {})}
    run.warnings = list(dict.fromkeys([*run.warnings, *(warnings or [])]))
    run.error = error
    if artifact_path is not None:
        run.artifact_path = str(artifact_path)
    run.finished_at = utcnow()
    session.add(run)
    session.flush()
    return run


@dataclass
class RunRecorder:
    """The handle a trainer keeps on its run; each call is its own short transaction."""

    engine: Engine
    run_id: int

    @classmethod
    def start(cls, engine: Engine, **fields: Any) -> RunRecorder:
        with session_scope(engine) as session:
            return cls(engine=engine, run_id=create_run(session, **fields).id)

    def log(self, step: int, values: dict[str, Any]) -> None:
        with session_scope(self.engine) as session:
            log_metric(session, run_id=self.run_id, step=step, values=values)

    def update(
        self, *, metrics: dict[str, Any] | None = None, artifact_path: str | None = None
    ) -> None:
        with session_scope(self.engine) as session:
            run = session.get(TrainingRun, self.run_id)
            if metrics:
                run.metrics = {**run.metrics, **_clean(metrics)}
            if artifact_path is not None:
                run.artifact_path = str(artifact_path)
            session.add(run)

    def finish(self, **kwargs: Any) -> TrainingRun:
        with session_scope(self.engine) as session:
            return finish_run(session, run_id=self.run_id, **kwargs)

    def fail(self, error: BaseException) -> None:
        with session_scope(self.engine) as session:
            finish_run(
                session,
                run_id=self.run_id,
                status="failed",
                error=f"{type(error).__name__}: {error}",
            )


@dataclass
class FollowerRunRecorder:
    """The recorder of a non-main process of a multi-process launch (DDP, DeepSpeed).

    One launch is one training run: the main process records it; the other processes compute
    the same averaged instruments and write nothing, so a launch never leaves a run per process.
    """

    rank: int
    run_id: int | None = None

    def log(self, step: int, values: dict[str, Any]) -> None:
        pass

    def update(
        self, *, metrics: dict[str, Any] | None = None, artifact_path: str | None = None
    ) -> None:
        pass

    def finish(self, **kwargs: Any) -> None:
        pass

    def fail(self, error: BaseException) -> None:
        pass


def launch_rank() -> int:
    """This process's global rank in a torchrun / accelerate launch (0 when launched alone)."""
    import os

    return int(os.environ.get("RANK", "0") or 0)
