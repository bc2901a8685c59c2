"""Connections to an Argilla server, with retries and a clear error when it stays down.

The URL and key come from options or from the SDK's own variables ``ARGILLA_API_URL`` and
``ARGILLA_API_KEY``. Transient failures (connection refused, timeouts, 502/503/504) are
retried with exponential backoff; after the last attempt :class:`ArgillaUnavailableError`
says which server did not answer and how to start one.

>>> from accord.feedback.argilla.client import ArgillaConnectionConfig
>>> ArgillaConnectionConfig(api_url="http://127.0.0.1:6900/", api_key="k").api_url
'http://127.0.0.1:6900'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import httpx

if TYPE_CHECKING:
    import argilla as rg

T = TypeVar("T")
RETRIED_STATUS = (502, 503, 504)
DEFAULT_API_URL = "http://127.0.0.1:6900"


class ArgillaUnavailableError(RuntimeError):
    """The Argilla server did not answer after every retry."""


class ArgillaConfigError(ValueError):
    """The connection is not configured (no API key) or the key is refused."""


@dataclass
class ArgillaConnectionConfig:
    """Where the Argilla server is and how hard to try reaching it."""

    api_url: str | None = field(
        default=None,
        metadata={"help": "Argilla URL (default: $ARGILLA_API_URL or localhost:6900)."},
    )
    api_key: str | None = field(
        default=None, metadata={"help": "API key (default: $ARGILLA_API_KEY)."}
    )
    timeout: float = field(default=120.0, metadata={"help": "Seconds per HTTP request."})
    attempts: int = field(default=5, metadata={"help": "Tries per call before giving up."})
    backoff: float = field(default=0.5, metadata={"help": "First delay between tries (doubles)."})
    max_backoff: float = field(default=8.0, metadata={"help": "Longest delay between tries."})

    def __post_init__(self) -> None:
        self.api_url = (
            self.api_url or os.environ.get("ARGILLA_API_URL") or DEFAULT_API_URL
        ).rstrip("/")
        self.api_key = self.api_key or os.environ.get("ARGILLA_API_KEY")
        if not self.api_url.startswith(("http://", "https://")):
            raise ArgillaConfigError(
                f"api_url must start with http:// or https://, got {self.api_url!r}"
            )
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.timeout <= 0 or self.backoff < 0:
            raise ValueError("timeout must be positive and backoff not negative")


def _is_transient(exc: BaseException) -> bool:
    from argilla._exceptions import ArgillaAPIError

    if isinstance(exc, httpx.TransportError):  # refused, reset, timeouts
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRIED_STATUS
    if isinstance(exc, ArgillaAPIError):
        return getattr(exc, "status_code", None) in RETRIED_STATUS
    return False


def with_retries(
    call: Callable[[], T], *, config: ArgillaConnectionConfig, what: str = "request"
) -> T:
    """``call()`` retried on transient errors with exponential backoff, then a clear error."""
    delay = config.backoff
    for attempt in range(1, config.attempts + 1):
        try:
            return call()
        except Exception as exc:
            if not _is_transient(exc):
                raise
            if attempt == config.attempts:
                raise ArgillaUnavailableError(
                    f"Argilla at {config.api_url} did not answer the {what} after "
                    f"{config.attempts} attempts ({type(exc).__name__}: {exc}). Is the server "
                    "running? Start a local one with `accord argilla local start`, or set "
                    "ARGILLA_API_URL / --api-url to the right address."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, config.max_backoff)
    raise AssertionError("unreachable")


@dataclass
class ArgillaConnection:
    """An SDK client plus the retry policy every accord call to Argilla goes through."""

    config: ArgillaConnectionConfig
    client: rg.Argilla

    @property
    def http(self) -> httpx.Client:
        """The SDK's own HTTP client (base URL and API key header already set)."""
        return self.client.http_client

    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        return with_retries(fn, config=self.config, what=what)

    def get_json(self, path: str, **params) -> dict:
        def request() -> dict:
            response = self.http.get(path, params=params)
            response.raise_for_status()
            return response.json()

        return self.call(request, what=f"GET {path}")


def connect(config: ArgillaConnectionConfig | None = None, **overrides) -> ArgillaConnection:
    """A checked connection: the server answered ``/api/v1/me`` with the given key."""
    import argilla as rg

    config = config or ArgillaConnectionConfig(**overrides)
    if not config.api_key:
        raise ArgillaConfigError(
            "no Argilla API key: set ARGILLA_API_KEY or pass --api-key "
            "(the local server's owner key is 'argilla.apikey')"
        )
    from argilla._exceptions import ArgillaCredentialsError

    def sign_in() -> rg.Argilla:
        # The SDK checks the key with GET /api/v1/me while constructing the client; its
        # transport retries only refused connections, accord's loop covers the rest.
        return rg.Argilla(
            api_url=config.api_url, api_key=config.api_key, timeout=int(config.timeout), retries=0
        )

    try:
        client = with_retries(sign_in, config=config, what="sign-in (GET /api/v1/me)")
    except ArgillaCredentialsError as exc:
        raise ArgillaConfigError(f"Argilla at {config.api_url} refused the API key") from exc
    return ArgillaConnection(config=config, client=client)
