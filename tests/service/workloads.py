"""A job kind for testing the worker itself: it writes one prompt per step (idempotently,
keyed by content like every row accord writes) and reports progress after each.

Registered as the ``count`` kind by ``register()``; the worker's child process imports
``count_job`` by its dotted path.
"""

from __future__ import annotations

import time
from typing import Any


def count_job(ctx) -> dict[str, Any]:
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.db import session_scope

    n, delay, tag = ctx.config["n"], ctx.config.get("delay", 0.0), ctx.config.get("tag", "count")
    ctx.progress(0, n, "counting")
    for i in range(n):
        with session_scope(ctx.engine) as session:
            upsert_prompt(session, text=f"{tag} item {i}", source=tag)
        ctx.progress(i + 1, n, f"item {i + 1} of {n}")
        time.sleep(delay)
    return {"written": n}


def _validate(config: dict[str, Any]) -> dict[str, Any]:
    from accord.service.job_kinds import JobConfigError

    if not isinstance(config.get("n"), int) or config["n"] < 0:
        raise JobConfigError([("n", "a non-negative integer is required")])
    return config


def register() -> None:
    from accord.service.job_kinds import register_kind

    register_kind("count", validate=_validate, handler=f"{__name__}:count_job")
