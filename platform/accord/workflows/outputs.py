"""What workflow steps hand to later steps: row ids (as every step does) plus figures.

``FiguresOutput`` is a ``StepOutput`` that also carries the step's figures (a snapshot's name
and hash, the runs a training step recorded, the audit's headline numbers, where reports are).
Later steps find them by kind with ``outputs_of(ctx, "snapshot")``; the summary step reads them
all. ``brief`` is the short part that goes into the job's result (``accord jobs show``).

>>> out = FiguresOutput(kind="snapshot", figures={"name": "demo"}, brief={"snapshot": "demo"})
>>> out.summary()
{'snapshot': 'demo'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..jobs.context import StepContext, StepOutput
from ..names import is_safe_name, path_under
from ..settings import get_settings
from ..store.crud.jobs import get_job
from ..store.db import session_scope


@dataclass
class FiguresOutput(StepOutput):
    """A step's ids and counters, plus its figures for later steps and the summary."""

    kind: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    brief: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), **self.brief}


def outputs_of(ctx: StepContext, kind: str) -> list[tuple[str, FiguresOutput]]:
    """Earlier steps' figures of one kind, in recipe order."""
    return [
        (name, out)
        for name, out in ctx.outputs.items()
        if isinstance(out, FiguresOutput) and out.kind == kind
    ]


def step_output(ctx: StepContext, name: str, kind: str) -> FiguresOutput | None:
    """The output of the earlier step ``name`` if it is a step of ``kind``."""
    out = ctx.outputs.get(name)
    if isinstance(out, FiguresOutput) and out.kind == kind:
        return out
    return None


def recipe_name(ctx: StepContext) -> str:
    """The running recipe's name (the job row's name)."""
    with session_scope(ctx.engine) as session:
        job = get_job(session, job_id=ctx.job_id)
        return (job.name if job is not None else "") or "recipe"


def report_dir(ctx: StepContext) -> Path:
    """Where a recipe's reports go: ``<home>/reports/<recipe name>``."""
    name = recipe_name(ctx)
    # Job names are checked when a job is made; a stored name from before that check still
    # cannot place reports outside the reports folder.
    folder = path_under(get_settings().reports_dir, name if is_safe_name(name) else "recipe")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def console_for(ctx: StepContext) -> Console:
    """The console the job's progress bars draw on (stderr), so tables print above the bars
    and stdout stays clean for ``accord run --json``."""
    bars = getattr(ctx.progress, "_bars", None)
    return bars.console if bars is not None else Console(stderr=True)


def resolve_path(ctx: StepContext, path: str) -> Path:
    """``path`` as given when it exists or is absolute, else relative to the recipe's folder."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return ctx.base_dir / p
