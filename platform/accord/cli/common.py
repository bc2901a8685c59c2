"""Shared bits of the CLI: the console, the store option, JSON output, clean errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Store URL (default: $ACCORD_DATABASE_URL or sqlite:///./accord.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def engine_for(db: str | None):
    """The migrated engine for ``--db`` (or the configured default)."""
    from ..store.db import open_store

    return open_store(db)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 1) -> None:
    """Print a clear error and exit with ``code`` (1: bad input or failed work, 2: usage)."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
