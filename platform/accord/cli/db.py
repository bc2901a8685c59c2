"""``accord db``: migrations of the preference store.

Why: the store's schema is versioned with alembic; every command migrates a store it opens,
and these commands do it (or report it) explicitly, e.g. before a deployment.

    accord db upgrade --db postgresql+psycopg://accord@localhost/accord
    accord db current --json
"""

from __future__ import annotations

import typer

from .common import DbOption, JsonOption, console, print_json

app = typer.Typer(
    help="Manage the preference store's schema (Alembic migrations).", no_args_is_help=True
)


@app.command()
def upgrade(
    db: DbOption = None, revision: str = typer.Option("head", help="Target revision.")
) -> None:
    """Apply pending migrations (the CLI also does this automatically on first use)."""
    from ..settings import get_settings
    from ..store.db import current_revision, make_engine
    from ..store.db import upgrade as do_upgrade

    engine = make_engine(db or get_settings().database_url)
    before = current_revision(engine)
    do_upgrade(engine, revision)
    console.print(
        f"store at revision [bold]{current_revision(engine)}[/] (was {before or 'empty'})"
    )


@app.command()
def current(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show the store's revision and the newest one this accord knows."""
    from ..settings import get_settings
    from ..store.db import current_revision, head_revision, make_engine

    engine = make_engine(db or get_settings().database_url)
    info = {
        "url": engine.url.render_as_string(hide_password=True),
        "current": current_revision(engine),
        "head": head_revision(),
    }
    if json_out:
        print_json(info)
    else:
        console.print(f"{info['url']}: revision {info['current'] or 'empty'} (head {info['head']})")
