"""Settings of the HTTP service and the worker, on top of the store's ``ACCORD_*`` settings.

>>> from accord.service.config import ServiceSettings
>>> ServiceSettings(database_url="sqlite://", max_body_bytes=1024).max_body_bytes
1024
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from ..settings import Settings


class ServiceSettings(Settings):
    max_body_bytes: int = Field(
        default=2_000_000, ge=1024, description="Largest request body the API accepts (413 above)."
    )
    default_page_size: int = Field(default=50, ge=1, description="Page size when none is asked.")
    cookie_name: str = Field(default="accord_token", description="Dashboard sign-in cookie.")
    cookie_secure: bool = Field(
        default=False, description="Send the sign-in cookie over HTTPS only (set behind TLS)."
    )
    heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="How often a worker proves it is alive while a job runs."
    )
    stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A running job without a heartbeat for this long is "
        "taken to have lost its worker and is queued again.",
    )
    max_attempts: int = Field(
        default=3, ge=1, description="A job that lost its worker this many times is failed."
    )
    argilla_pull_every_seconds: float = Field(
        default=0.0, ge=0, description="Queue an Argilla pull job this often (0: never)."
    )
    argilla_pull_config: str = Field(
        default="",
        description="Config of the scheduled Argilla pull, a JSON object such as "
        '{"dataset": "preferences"} (empty: {}).',
    )

    def argilla_pull_options(self) -> dict:
        """``argilla_pull_config`` parsed; a clear error naming the variable when it is bad."""
        text = self.argilla_pull_config.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"ACCORD_ARGILLA_PULL_CONFIG is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise TypeError("ACCORD_ARGILLA_PULL_CONFIG must be a JSON object")
        return value

    job_path_roots: str = Field(
        default="",
        description="Folders (separated by ':') that jobs submitted through the API "
        "may name by absolute path (data files, output folders, local models). Empty: none; "
        "such jobs then use bundled data, the store, and relative names only.",
    )
    allow_trust_remote_code: bool = Field(
        default=False,
        description="Let jobs submitted through the API load models with "
        "trust_remote_code (runs the model repository's Python code in the worker).",
    )

    def path_roots(self) -> tuple[Path, ...]:
        """``job_path_roots`` as resolved folders."""
        return tuple(
            Path(p).expanduser().resolve() for p in self.job_path_roots.split(":") if p.strip()
        )

    sse_max_seconds: float = Field(
        default=600.0, gt=0, description="Longest a progress event stream stays open."
    )
