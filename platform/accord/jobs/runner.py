"""Run a recipe as a job: a ``job`` row with status and progress, steps in order, every
backend call through the content-addressed cache.

Rerunning a finished recipe recomputes nothing and writes no rows; rerunning one that was
killed (SIGKILL, SIGINT, power loss) finishes the rest. Items that failed become ``joberror``
records and are skipped on reruns unless ``retry_errors`` is set.

>>> from accord.store.db import open_store
>>> from accord.jobs import run_recipe
>>> engine = open_store("sqlite:///quick.db")                        # doctest: +SKIP
>>> run_recipe(engine, "pipelines/quickstart.yaml").status            # doctest: +SKIP
'succeeded'
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ..backends.base import Backend
from ..store.crud.jobs import create_job, finish_job, get_job, mark_running
from ..store.db import session_scope
from .context import JobCancelled, ModelRef, StepContext, StepOutput
from .progress import JobProgress
from .recipe import Recipe, load_recipe, parse_recipe, resolve_recipe_path
from .registry import get_step


@dataclass
class JobResult:
    job_id: int
    status: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: int = 0
    skipped_known_errors: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "steps": self.steps,
            "errors": self.errors,
            "skipped_known_errors": self.skipped_known_errors,
            "seconds": round(self.seconds, 3),
        }


def as_recipe(recipe: Recipe | dict | str | Path) -> tuple[Recipe, Path]:
    """A validated recipe and the folder its relative paths are resolved against."""
    if isinstance(recipe, dict):
        recipe = parse_recipe(recipe)
    elif not isinstance(recipe, Recipe):
        recipe = load_recipe(resolve_recipe_path(recipe))
    return recipe, Path(recipe.base_dir) if recipe.base_dir else Path.cwd()


def run_recipe(
    engine: Engine,
    recipe_path_or_obj: Recipe | dict | str | Path,
    *,
    job_id: int | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    backends: dict[str, Backend] | None = None,
    backend_factory: Callable[[ModelRef], Backend] | None = None,
    worker_id: str | None = None,
) -> JobResult:
    """Run every step of a recipe; return the job's outcome.

    ``job_id`` resumes/uses an existing (queued) job row, as the service's worker does;
    ``backends`` maps model aliases to already-built backends (they are not closed here).
    A failing step marks the job ``failed`` and re-raises; an interrupt or a cancel request
    marks it ``cancelled``.
    """
    recipe, base_dir = as_recipe(recipe_path_or_obj)
    with session_scope(engine) as session:
        if job_id is None:
            job = create_job(session, kind="recipe", name=recipe.name, config=recipe.config_dict())
        else:
            job = get_job(session, job_id=job_id)
            if job is None:
                raise ValueError(f"no job with id {job_id}")
        mark_running(
            session, job=job, worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}"
        )
        job_id = job.id
    models = {
        alias: ModelRef(spec.backend, spec.model, dict(spec.options))
        for alias, spec in recipe.models.items()
    }
    result = JobResult(job_id=job_id, status="running")
    started = time.perf_counter()
    with JobProgress(show=progress) as bars:
        ctx = StepContext(
            engine=engine,
            job_id=job_id,
            seed=recipe.seed,
            base_dir=base_dir,
            retry_errors=retry_errors,
            progress=bars,
            models=models,
            backends=backends,
            backend_factory=backend_factory,
        )
        try:
            for step in recipe.steps:
                ctx.step_name = step.name or step.kind
                output = get_step(step.kind).run(ctx, step)
                if not isinstance(output, StepOutput):
                    output = StepOutput()
                ctx.outputs[ctx.step_name] = output
                result.steps[ctx.step_name] = {"kind": step.kind, **output.summary()}
        except (KeyboardInterrupt, JobCancelled) as exc:
            _finish(
                engine,
                job_id,
                "cancelled",
                result,
                ctx,
                started,
                error="interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc),
            )
            raise
        except BaseException as exc:
            _finish(
                engine, job_id, "failed", result, ctx, started, error=f"{type(exc).__name__}: {exc}"
            )
            raise
        finally:
            ctx.close()
    _finish(engine, job_id, "succeeded", result, ctx, started)
    return result


def _finish(
    engine: Engine,
    job_id: int,
    status: str,
    result: JobResult,
    ctx: StepContext,
    started: float,
    error: str | None = None,
) -> None:
    result.status = status
    result.errors = ctx.errors_recorded
    result.skipped_known_errors = ctx.skipped_known_errors
    result.seconds = time.perf_counter() - started
    with session_scope(engine) as session:
        job = get_job(session, job_id=job_id)
        # Keys a step recorded on the job while it ran (the loop's rounds) are kept.
        finish_job(
            session,
            job=job,
            status=status,
            error=error,
            result={**(job.result or {}), **result.to_dict()},
        )
