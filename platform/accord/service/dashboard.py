"""The dashboard: server-rendered pages over the same store as the API.

Sign in once with a token (kept in an HttpOnly cookie); pages poll the JSON API with a few
lines of plain JavaScript for live job progress. Annotators see the overview and agreement;
the operations pages (jobs, snapshots, runs) need the engineer, viewer or admin role.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from ..store.crud import jobs as job_crud
from ..store.crud import runs as run_crud
from ..store.crud import snapshots as snapshot_crud
from ..store.crud.stats import overview_counts
from ..store.models import User
from .auth import READ_DATA, READ_OPS, Permission
from .deps import MAX_ID
from .users import user_for_token

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


class SignInRequired(Exception):
    pass


def _user(request: Request, session: Session) -> User | None:
    token = request.cookies.get(request.app.state.settings.cookie_name)
    return user_for_token(session, token=token) if token else None


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def curve_points(
    values: list[tuple[int, float]], *, width: int = 560, height: int = 160, pad: int = 6
) -> dict[str, Any]:
    """SVG polyline coordinates for one metric's (step, value) points, with its range."""
    pts = [(s, v) for s, v in values if v is not None and math.isfinite(v)]
    if not pts:
        return {"points": "", "min": None, "max": None, "last": None, "n": 0}
    s0, s1 = min(s for s, _ in pts), max(s for s, _ in pts)
    v0, v1 = min(v for _, v in pts), max(v for _, v in pts)
    sx = (width - 2 * pad) / (s1 - s0 or 1)
    sy = (height - 2 * pad) / (v1 - v0 or 1)
    coords = " ".join(
        f"{pad + (s - s0) * sx:.1f},{height - pad - (v - v0) * sy:.1f}" for s, v in pts
    )
    return {"points": coords, "min": v0, "max": v1, "last": pts[-1][1], "n": len(pts)}


def run_curves(session: Session, run_id: int) -> dict[str, dict[str, Any]]:
    rows = run_crud.run_metrics(session, run_id=run_id)
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in (row.values or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(key, []).append((row.step, float(value)))
    return {key: curve_points(points) for key, points in sorted(series.items())}


def job_loops(job) -> list[dict[str, Any]]:
    """The round tables of a job's loop steps (``accord.workflows.loop``), for its page."""
    from ..workflows.loop.records import rounds_of_result
    from ..workflows.loop.table import round_cells

    return [
        {"title": f"{job.name} / {step}", **round_cells(rounds)}
        for step, rounds in rounds_of_result(job.result).items()
        if rounds
    ]


def run_loops(engine, run) -> list[dict[str, Any]]:
    """The round table of the loop that trained ``run`` (empty for other runs)."""
    from ..workflows.loop.records import rounds_for_run
    from ..workflows.loop.table import round_cells

    found = rounds_for_run(engine, run.metrics, run.id)
    return [] if found is None else [{"title": found[0], **round_cells(found[1])}]


def mount_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def guarded(request: Request, permission: Permission):
        """(session, user) for a page, or a response (sign-in redirect, 403 page)."""
        session = Session(request.app.state.engine, expire_on_commit=False)
        user = _user(request, session)
        if user is None:
            session.close()
            return None, RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
        if user.role not in permission.roles:
            session.close()
            return None, _page(request, "forbidden.html", {"user": user}, status_code=403)
        return (session, user), None

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_form(request: Request, next: str = "/"):
        return _page(
            request, "signin.html", {"user": None, "next": _safe_next(next), "error": None}
        )

    @app.post("/signin", include_in_schema=False)
    def signin(request: Request, token: str = Form(max_length=200), next: str = Form("/")):
        settings = request.app.state.settings
        with Session(request.app.state.engine) as session:
            user = user_for_token(session, token=token.strip())
        if user is None:
            return _page(
                request,
                "signin.html",
                {"user": None, "next": _safe_next(next), "error": "Unknown or deactivated token."},
                status_code=401,
            )
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            settings.cookie_name,
            token.strip(),
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            max_age=30 * 24 * 3600,
        )
        return response

    @app.get("/signout", include_in_schema=False)
    def signout(request: Request):
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(request.app.state.settings.cookie_name)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request) -> Response:
        ctx, denied = guarded(request, READ_DATA)
        if denied:
            return denied
        session, user = ctx
        with session:
            counts = overview_counts(session)
            recent = job_crud.recent_jobs(session, limit=5) if user.role in READ_OPS.roles else []
        return _page(request, "overview.html", {"user": user, "counts": counts, "jobs": recent})

    @app.get("/jobs", response_class=HTMLResponse, include_in_schema=False)
    def jobs_page(request: Request) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            jobs = job_crud.recent_jobs(session, limit=100)
        return _page(request, "jobs.html", {"user": user, "jobs": jobs})

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: int) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            job = job_crud.get_job(session, job_id=job_id) if 1 <= job_id <= MAX_ID else None
        if job is None:
            return _page(request, "missing.html", {"user": user, "what": f"job {job_id}"}, 404)
        return _page(request, "job.html", {"user": user, "job": job, "loops": job_loops(job)})

    @app.get("/agreement", response_class=HTMLResponse, include_in_schema=False)
    def agreement_page(request: Request) -> Response:
        from .agreement import agreement_summary, list_reports

        ctx, denied = guarded(request, READ_DATA)
        if denied:
            return denied
        session, user = ctx
        session.close()
        summary = agreement_summary(request.app.state.engine)
        reports = list_reports(Path(request.app.state.settings.reports_dir))
        return _page(
            request, "agreement.html", {"user": user, "summary": summary, "reports": reports}
        )

    @app.get("/snapshots", response_class=HTMLResponse, include_in_schema=False)
    def snapshots_page(request: Request) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            snaps, _ = snapshot_crud.list_snapshots(session, limit=200)
        return _page(request, "snapshots.html", {"user": user, "snapshots": snaps})

    @app.get("/snapshots/{name}", response_class=HTMLResponse, include_in_schema=False)
    def snapshot_page(request: Request, name: str, diff: str | None = None) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            snap = snapshot_crud.get_snapshot(session, name=name)
            others = snapshot_crud.other_snapshot_names(session, name=name, limit=200)
        if snap is None:
            return _page(request, "missing.html", {"user": user, "what": f"snapshot {name!r}"}, 404)
        changes = None
        if diff and diff in others:
            from ..snapshots import diff_snapshots

            changes = diff_snapshots(request.app.state.engine, name, diff, sample=10)
        return _page(
            request,
            "snapshot.html",
            {"user": user, "snap": snap, "others": others, "diff_with": diff, "changes": changes},
        )

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            runs, _ = run_crud.list_runs(session, limit=200)
            steps = run_crud.metric_counts(session)
        return _page(request, "runs.html", {"user": user, "runs": runs, "steps": steps})

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run_id: int) -> Response:
        ctx, denied = guarded(request, READ_OPS)
        if denied:
            return denied
        session, user = ctx
        with session:
            run = run_crud.get_run(session, run_id=run_id) if 1 <= run_id <= MAX_ID else None
            curves = run_curves(session, run_id) if run is not None else {}
        if run is None:
            return _page(request, "missing.html", {"user": user, "what": f"run {run_id}"}, 404)
        loops = run_loops(request.app.state.engine, run)
        return _page(
            request, "run.html", {"user": user, "run": run, "curves": curves, "loops": loops}
        )


def _safe_next(target: str) -> str:
    """Only local paths: a sign-in link cannot send the browser to another site."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"
