"""``accord serve``, ``accord worker`` and ``accord users``: run accord as a service.

accord users create ada --role admin          # prints ada's token, once
accord users list --json
accord users create ci-bot --role engineer --expires 30d
accord users set-role ada viewer              # the last active admin stays an admin
accord serve --host 0.0.0.0 --port 8000 --with-worker
accord worker --once
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from .common import DbOption, JsonOption, console, engine_for, fail, print_json


def _settings(db: str | None):
    from ..service.config import ServiceSettings

    return ServiceSettings(database_url=db) if db else ServiceSettings()


def serve(
    host: str = "127.0.0.1", port: int = 8000, with_worker: bool = False, db: str | None = None
) -> None:
    """Start the API and dashboard (and, with ``with_worker``, a job worker in this process)."""
    import uvicorn

    from ..service.app import create_app
    from ..service.worker import Worker

    settings = _settings(db)
    engine = engine_for(settings.database_url)
    app = create_app(settings, engine=engine)
    worker = None
    if with_worker:
        worker = Worker(engine, settings=settings)
        threading.Thread(target=worker.run_forever, name="accord-worker", daemon=True).start()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    console.print(
        f"accord serving on http://{host}:{port}  (API docs: /docs)"
        + ("  with a worker" if worker else "")
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if worker is not None:
            worker.stop()


def worker(db: str | None = None, once: bool = False, poll_interval: float = 1.0) -> None:
    """Run queued jobs until interrupted (``once``: at most one job, then return)."""
    from ..service.worker import Worker

    settings = _settings(db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    runner = Worker(
        engine_for(settings.database_url), settings=settings, poll_interval=poll_interval
    )
    if once:
        ran = runner.run_once()
        console.print("ran one job" if ran else "no job was queued")
        return
    if threading.current_thread() is threading.main_thread():
        runner.install_signal_handlers()
    console.print(f"worker {runner.worker_id} waiting for jobs (Ctrl-C to stop)")
    done = runner.run_forever()
    console.print(f"worker stopped after {done} job(s)")


users_app = typer.Typer(help="Service users and their bearer tokens.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option("--role", help="admin | engineer | annotator | viewer")],
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", help="Token expiry: 30d, 12h, 90m from now, or an ISO date (UTC)."
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a user and print its token. The token is shown only now: store it."""
    from ..service.users import UserError, create_user, parse_expiry
    from ..store.db import session_scope

    try:
        expires_at = parse_expiry(expires) if expires else None
        with session_scope(engine_for(db)) as session:
            user, token = create_user(session, name=name, role=role, expires_at=expires_at)
    except UserError as exc:
        fail(str(exc))
    if json_out:
        print_json({"id": user.id, "name": user.name, "role": user.role, "token": token})
        return
    console.print(f"created [bold]{user.name}[/] ({user.role}). Token, shown only once:")
    typer.echo(token)


@users_app.command("list")
def users_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every user with its role and whether its token works."""
    from rich.table import Table

    from ..service.users import list_users
    from ..store.db import session_scope

    with session_scope(engine_for(db)) as session:
        users, _ = list_users(session, limit=100_000)
    rows = [
        {
            "id": u.id,
            "name": u.name,
            "role": u.role,
            "active": u.active,
            "created_at": u.created_at.isoformat(),
            "token_expires_at": u.token_expires_at.isoformat() if u.token_expires_at else None,
        }
        for u in users
    ]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "role", "active", "created", "token expires")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["role"],
            "yes" if r["active"] else "no",
            r["created_at"][:19],
            (r["token_expires_at"] or "never")[:19],
        )
    console.print(table)


def _named_user(session, name: str):
    """The user called ``name``; the command fails when there is none."""
    from ..service.users import get_user

    user = get_user(session, name=name)
    if user is None:
        fail(f"no user named {name!r}")
    return user


@users_app.command("deactivate")
def users_deactivate(
    name: Annotated[str, typer.Argument(help="User name.")], db: DbOption = None
) -> None:
    """Stop a user's token from working."""
    from ..service.users import UserError, update_user
    from ..store.db import session_scope

    try:
        with session_scope(engine_for(db)) as session:
            user = _named_user(session, name)
            update_user(session, user=user, active=False)
    except UserError as exc:
        fail(str(exc))
    console.print(f"{name} deactivated")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="admin | engineer | annotator | viewer")],
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", help="Also set the token expiry: 30d, 12h, 90m from now, or an ISO date."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Change a user's role (the last active admin stays an admin)."""
    from ..service.users import UserError, parse_expiry, update_user
    from ..store.db import session_scope

    try:
        expires_at = parse_expiry(expires) if expires else None
        with session_scope(engine_for(db)) as session:
            user = _named_user(session, name)
            update_user(session, user=user, role=role, expires_at=expires_at)
    except UserError as exc:
        fail(str(exc))
    console.print(
        f"{name} is now {role}"
        + (f", token expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "")
    )


@users_app.command("rotate-token")
def users_rotate(
    name: Annotated[str, typer.Argument(help="User name.")],
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Expiry of the new token: 30d, 12h, 90m, or an ISO date."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Give a user a new token (printed once); the old one stops working."""
    from ..service.users import UserError, parse_expiry, rotate_token
    from ..store.db import session_scope

    try:
        expires_at = parse_expiry(expires) if expires else None
        with session_scope(engine_for(db)) as session:
            user = _named_user(session, name)
            token = rotate_token(session, user=user, expires_at=expires_at)
    except UserError as exc:
        fail(str(exc))
    console.print(f"new token for {name}, shown only once:")
    typer.echo(token)
