"""``accord run RECIPE``: run a recipe as a resumable job (``pipelines/quickstart.yaml``).

accord run pipelines/quickstart.yaml
accord run quickstart --db sqlite:///demo.db --json
accord run pipelines/quickstart.yaml --retry-errors
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from .common import DbOption, JsonOption, console, err_console, fail, print_json


def run(
    recipe: Path = typer.Argument(
        ..., help="Recipe YAML file, or a bundled recipe name (quickstart)."
    ),
    db: DbOption = None,
    retry_errors: bool = typer.Option(
        False, "--retry-errors", help="Retry items recorded as errors."
    ),
    json_out: JsonOption = False,
    job_id: int = typer.Option(None, "--job-id", help="Run as this existing job row."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Run every step of a recipe; rerunning recomputes nothing already stored."""
    from ..constitutions import DocumentError
    from ..jobs.recipe import load_recipe, resolve_recipe_path
    from ..jobs.runner import run_recipe
    from ..store.db import open_store

    try:
        path = resolve_recipe_path(recipe)
        parsed = load_recipe(path)
    except (DocumentError, FileNotFoundError) as exc:
        fail(str(exc))
    url = db or os.environ.get("ACCORD_DATABASE_URL") or parsed.database_url
    engine = open_store(url)
    try:
        result = run_recipe(
            engine,
            path,
            job_id=job_id,
            retry_errors=retry_errors,
            progress=progress and not json_out,
        )
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: rerun the same command to finish the rest")
        raise typer.Exit(130) from None
    except (DocumentError, FileNotFoundError, KeyError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"job [bold]{result.job_id}[/] {result.status} in {result.seconds:.1f}s ({engine.url!s})"
    )
    for name, summary in result.steps.items():
        details = ", ".join(f"{k}={v}" for k, v in summary.items() if k != "kind")
        console.print(f"  {name} [dim]({summary['kind']})[/]: {details}")
    if result.errors or result.skipped_known_errors:
        console.print(
            f"[yellow]{result.errors} item error(s) recorded, "
            f"{result.skipped_known_errors} known error(s) skipped[/]: "
            f"see `accord jobs show {result.job_id}`; rerun with --retry-errors"
        )
