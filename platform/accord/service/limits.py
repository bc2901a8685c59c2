"""Limits enforced before a request reaches any route: the body size, and no NUL character
in the URL.

The declared ``Content-Length`` is checked first; bodies sent in chunks are counted as they
arrive, so a client cannot get past the limit by leaving the header out. A NUL (``%00``) in the
path or the query answers 422 on every database (PostgreSQL cannot even compare with one).
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    """Raised while reading a chunked body; an HTTP error so route code cannot swallow it."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


def _too_large_body(limit: int) -> bytes:
    return json.dumps(
        {"detail": f"request body is larger than the limit of {limit} bytes"}
    ).encode()


class BodySizeLimit:
    """ASGI middleware answering 413 to bodies longer than the app's ``max_body_bytes``
    (read per request from ``app.state.settings``, so changed settings apply at once)."""

    def __init__(self, app):
        self.app = app

    async def _reject(self, send, limit: int) -> None:
        body = _too_large_body(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = scope["app"].state.settings.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    return await self._reject(send, limit)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)


_NUL_DETAIL = json.dumps({"detail": "the URL holds a NUL character (%00); remove it"}).encode()


class RejectNulInUrl:
    """ASGI middleware answering 422 to a path or query string holding a NUL character."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 422,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_NUL_DETAIL)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _NUL_DETAIL})
            return
        await self.app(scope, receive, send)
