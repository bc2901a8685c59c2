"""Run work units through a backend with the cache, error records and one transaction per batch.

A *unit* is the smallest piece of work that succeeds or fails as a whole: one generation, one
critique, or every (principle × order) request for one judged pair. Units are processed in
fixed-size batches in their given order; a batch sends all its uncached requests to the
backend in one call, then writes — in ONE transaction — the rows each unit produced, the cache
entries of its requests, its error records and the job's progress. A process killed at any
instant therefore leaves each batch either entirely written or not at all, and a rerun
(which finds the same batches, since the order is fixed) recomputes only the missing ones.

A unit that fails becomes a ``JobError`` whose payload keeps its requests and, beside them,
what the model said (``outputs``: raw text, finish reason, answer log-probs, backend error).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from ..backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from ..hashing import content_hash
from ..store.crud.jobs import record_error, resolve_error, set_progress
from ..store.db import session_scope
from ..store.models import Job, JobError
from .cache import cache_key, cache_row, cached_results, store_cache_rows
from .context import StepContext


@dataclass
class WorkUnit:
    """Requests that succeed or fail together, and the step's own data about them."""

    requests: list[GenerationRequest]
    data: Any = None
    keys: list[str] = field(default_factory=list)
    key: str = ""


@dataclass
class UnitFailure:
    cause: str
    message: str


_CAUSE_PREFIX = re.compile(r"^([a-z_]{2,20}):\s")


def error_cause(message: str) -> str:
    """A backend error's cause: its ``cause:`` prefix, else timeout | refusal | backend."""
    m = _CAUSE_PREFIX.match(message)
    if m:
        return m.group(1)
    low = message.lower()
    if "timeout" in low or "timed out" in low:
        return "timeout"
    if "refus" in low or "content_filter" in low or "content filter" in low:
        return "refusal"
    return "backend"


def what_the_model_said(result: GenerationResult | None) -> dict[str, Any] | None:
    """A result as an error record keeps it beside its request, so a bad prompt or parser can be
    diagnosed: the raw text, why it stopped, the answer log-probs and the backend's error
    (None: the request was never answered, e.g. the whole batch failed)."""
    if result is None:
        return None
    return {
        "text": result.text,
        "finish_reason": result.finish_reason,
        "choice_logprobs": result.choice_logprobs,
        "error": result.error,
    }


def _unresolved(session: Session, step: str, keys: list[str]) -> set[str]:
    q = select(JobError.item_key).where(
        JobError.step == step, JobError.item_key.in_(keys), JobError.resolved == False
    )
    return set(session.exec(q).all())


def run_units(
    ctx: StepContext,
    *,
    step: str,
    backend: Backend,
    units: list[WorkUnit],
    batch_size: int,
    parse: Callable[[WorkUnit, list[GenerationResult]], Any],
    write: Callable[[Session, WorkUnit, Any], Any],
    description: str | None = None,
) -> list[tuple[WorkUnit, Any]]:
    """Process ``units``; return ``(unit, write's return)`` for every unit that succeeded.

    ``parse`` turns a unit's results into parsed data (raise ``UnparsableOutput`` /
    ``RefusedOutput`` for bad output); ``write`` stores the rows for it inside the batch's
    transaction and returns what later phases need (e.g. row ids).
    """
    model_id = getattr(backend, "model_id", "")
    backend_name = getattr(backend, "name", "")
    for unit in units:
        unit.keys = [
            cache_key(step=step, model_id=model_id, backend=backend_name, request=r)
            for r in unit.requests
        ]
        unit.key = unit.keys[0] if len(unit.keys) == 1 else content_hash("unit", unit.keys)
    task = ctx.progress.add_step(description or step, total=len(units))
    done: list[tuple[WorkUnit, Any]] = []
    batch_size = max(1, batch_size)
    for start in range(0, len(units), batch_size):
        ctx.check_cancel()
        batch = units[start : start + batch_size]
        with Session(ctx.engine) as session:
            cached = cached_results(session, [k for u in batch for k in u.keys])
            known_errors = _unresolved(session, step, [u.key for u in batch])
        results: dict[int, list[GenerationResult | None]] = {}
        to_send: list[tuple[int, int]] = []
        skipped: set[int] = set()
        for ui, unit in enumerate(batch):
            results[ui] = [cached.get(k) for k in unit.keys]
            if all(r is not None for r in results[ui]):
                continue
            if unit.key in known_errors and not ctx.retry_errors:
                skipped.add(ui)
                continue
            to_send.extend((ui, ri) for ri, r in enumerate(results[ui]) if r is None)
        failures: dict[int, UnitFailure] = {}
        fresh: set[tuple[int, int]] = set()
        if to_send:
            try:
                outs = backend.generate([batch[ui].requests[ri] for ui, ri in to_send])
                if len(outs) != len(to_send):
                    raise BackendError(
                        f"backend returned {len(outs)} results for {len(to_send)} requests"
                    )
            except BackendError as exc:
                for ui, _ in to_send:
                    failures[ui] = UnitFailure(exc.cause, str(exc))
                outs = []
            for (ui, ri), out in zip(to_send, outs):
                out = out.storable()
                if out.error:
                    failures.setdefault(ui, UnitFailure(error_cause(out.error), out.error))
                results[ui][ri] = out
                fresh.add((ui, ri))
        with session_scope(ctx.engine) as session:
            cache_rows = []
            for ui, unit in enumerate(batch):
                if ui in skipped:
                    ctx.skipped_known_errors += 1
                    continue
                failure = failures.get(ui)
                parsed = None
                if failure is None:
                    try:
                        parsed = parse(unit, results[ui])  # type: ignore[arg-type]
                    except ValueError as exc:
                        failure = UnitFailure(getattr(exc, "cause", "unparsable"), str(exc))
                if failure is not None:
                    record_error(
                        session,
                        job_id=ctx.job_id,
                        step=step,
                        item_key=unit.key,
                        cause=failure.cause,
                        message=failure.message[:4000],
                        payload={
                            "requests": [r.cache_payload() for r in unit.requests],
                            "outputs": [what_the_model_said(r) for r in results[ui]],
                            "model_id": model_id,
                            "backend": backend_name,
                        },
                    )
                    ctx.errors_recorded += 1
                    continue
                done.append((unit, write(session, unit, parsed)))
                if unit.key in known_errors:
                    resolve_error(session, step=step, item_key=unit.key)
                for ri, req in enumerate(unit.requests):
                    if (ui, ri) in fresh:
                        cache_rows.append(
                            cache_row(
                                key=unit.keys[ri],
                                step=step,
                                model_id=model_id,
                                backend=backend_name,
                                request=req,
                                result=results[ui][ri],
                                job_id=ctx.job_id,
                            )
                        )  # type: ignore[arg-type]
            store_cache_rows(session, cache_rows)
            ctx.progress.advance(task, len(batch))
            job = session.get(Job, ctx.job_id)
            if job is not None:
                set_progress(
                    session,
                    job=job,
                    done=ctx.progress.done,
                    total=ctx.progress.total,
                    message=f"{ctx.step_name}: {description or step}",
                )
    return done
