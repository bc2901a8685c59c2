"""Reading a loop's rounds back: from the newest recipe job of that name that recorded any
(each round is written on the job as it finishes, so a killed run still shows its rounds)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...store.models import Job


def rounds_of_result(result: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Loop step name → its round records, from a job's result."""
    result = result or {}
    found = {name: list(v.get("rounds") or []) for name, v in (result.get("loop") or {}).items()}
    for name, summary in (result.get("steps") or {}).items():
        if isinstance(summary, dict) and summary.get("kind") == "loop" and summary.get("rounds"):
            found[name] = list(summary["rounds"])
    return found


def loop_rounds(engine: Engine, name: str) -> tuple[Job | None, dict[str, list[dict[str, Any]]]]:
    """The newest job named ``name`` with loop rounds, and its rounds by loop step."""
    with Session(engine) as session:
        jobs = session.exec(select(Job).where(Job.name == name).order_by(Job.id.desc())).all()
    for job in jobs:
        found = rounds_of_result(job.result)
        if found:
            return job, found
    return None, {}


def rounds_for_run(
    engine: Engine, metrics: dict[str, Any] | None, run_id: int | None = None
) -> tuple[str, list[dict[str, Any]]] | None:
    """(title, the loop's rounds) for a training run that a loop round trained (its metrics
    hold ``loop: {recipe, step, round}``): the rounds of the newest job of that recipe that
    lists the run, else of its newest job with rounds of that step; None for other runs."""
    loop = (metrics or {}).get("loop")
    if not isinstance(loop, dict) or not loop.get("recipe") or not loop.get("step"):
        return None
    with Session(engine) as session:
        jobs = session.exec(
            select(Job).where(Job.name == loop["recipe"]).order_by(Job.id.desc())
        ).all()
    fallback = None
    for job in jobs:
        rounds = rounds_of_result(job.result).get(loop["step"])
        if not rounds:
            continue
        if run_id is None or any(r.get("run_id") == run_id for r in rounds):
            return f"{loop['recipe']} / {loop['step']}: rounds (job {job.id})", rounds
        fallback = fallback or (f"{loop['recipe']} / {loop['step']}: rounds (job {job.id})", rounds)
    return fallback
