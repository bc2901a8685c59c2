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

    register_kind("count", validate=_validate, handler="tests.service.workloads:count_job")


def main() -> None:
    """A worker process that also runs ``count`` jobs (used to kill a worker mid-job):
    ``python -m tests.service.workloads`` with ACCORD_DATABASE_URL set."""
    import logging
    import os

    from accord.service.config import ServiceSettings
    from accord.service.worker import Worker
    from accord.store.db import open_store

    register()
    logging.basicConfig(level=logging.INFO)
    settings = ServiceSettings(heartbeat_seconds=0.3, stale_after_seconds=2.0)
    worker = Worker(
        open_store(os.environ["ACCORD_DATABASE_URL"], migrate=False),
        settings=settings,
        poll_interval=0.2,
    )
    worker.install_signal_handlers()
    worker.run_forever()


if __name__ == "__main__":
    main()
