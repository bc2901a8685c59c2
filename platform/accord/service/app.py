"""The FastAPI application: the REST API under ``/api`` (OpenAPI at ``/docs``), the
dashboard at ``/``, limits on every request.

>>> from fastapi.testclient import TestClient
>>> from accord.service.app import create_app
>>> from accord.service.config import ServiceSettings
>>> client = TestClient(create_app(ServiceSettings(database_url="sqlite://")))
>>> client.get("/api/health").json()["database"]["status"]
'ok'
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

import accord

from ..store.text import StoreTextError
from .config import ServiceSettings
from .limits import BodySizeLimit, RejectNulInUrl

API_PREFIX = "/api"


def _routers():
    from .routers import (
        argilla,
        audit,
        constitutions,
        gold,
        health,
        jobs,
        judgments,
        pairs,
        prompts,
        responses,
        runs,
        snapshots,
        stats,
        users,
    )

    return (
        health,
        stats,
        prompts,
        responses,
        pairs,
        judgments,
        constitutions,
        jobs,
        snapshots,
        runs,
        audit,
        argilla,
        users,
        gold,
    )


def create_app(settings: ServiceSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The service for ``settings`` (default: ``ACCORD_*`` variables) on the migrated store."""
    from ..store.db import open_store

    settings = settings or ServiceSettings()
    engine = engine if engine is not None else open_store(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(
        title="accord",
        version=accord.__version__,
        lifespan=lifespan,
        description="Preference data service: store, jobs, snapshots, runs, audits. "
        "Sign in with `Authorization: Bearer <token>` (`accord users create NAME --role ROLE`).",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RejectNulInUrl)

    for module in _routers():
        app.include_router(module.router, prefix=API_PREFIX)

    from .dashboard import mount_dashboard

    mount_dashboard(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name each bad field plainly; never echo the (possibly huge) input back.
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(StoreTextError)
    async def store_text_error(request: Request, exc: StoreTextError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(UnicodeError)
    async def not_unicode(request: Request, exc: UnicodeError) -> JSONResponse:
        # A lone surrogate ("\ud800", valid in JSON) reaching a driver or an encoder.
        return JSONResponse(
            {
                "detail": "a text of the request is not valid Unicode (a lone "
                "surrogate such as \\ud800): send valid UTF-8 text"
            },
            status_code=422,
        )

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return JSONResponse({"detail": "the request body is nested too deeply"}, status_code=400)

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (PostgreSQL: a NUL character in text, a number out
        # of range) that no earlier check caught: the client's input, so a 422.
        return JSONResponse(
            {
                "detail": "a value of the request cannot be stored or compared: "
                f"{str(exc.orig).splitlines()[0][:300]}"
            },
            status_code=422,
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"conflicts with stored data: {str(exc.orig).splitlines()[0][:300]}"},
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "the database is unavailable, try again: "
                f"{str(exc.orig).splitlines()[0][:300]}"
            },
            status_code=503,
        )

    return app
