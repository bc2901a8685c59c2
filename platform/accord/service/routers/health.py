"""``GET /api/health``: versions and database status, without signing in (load balancers,
docker-compose health checks). 200 when the store answers, 503 when it does not."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import accord

    out = {"accord": accord.__version__, "python": sys.version.split()[0]}
    for dist in ("fastapi", "sqlalchemy", "sqlmodel", "pydantic", "uvicorn"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


@router.get("/health", summary="Service and database status (no sign-in)")
def health(request: Request) -> JSONResponse:
    from ...store.db import current_revision, head_revision

    engine = request.app.state.engine
    database: dict[str, Any] = {"dialect": engine.dialect.name}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database["status"] = "ok"
        database["server_version"] = ".".join(
            str(p) for p in (engine.dialect.server_version_info or ())
        )
        database["revision"] = current_revision(engine)
        database["head"] = head_revision()
        database["up_to_date"] = database["revision"] == database["head"]
    except Exception as exc:  # noqa: BLE001 - this route reports any database failure
        database["status"] = "error"
        database["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    ok = database["status"] == "ok"
    body = {"status": "ok" if ok else "degraded", "versions": _versions(), "database": database}
    return JSONResponse(body, status_code=200 if ok else 503)
