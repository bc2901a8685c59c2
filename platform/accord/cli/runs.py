"""``accord runs``: training runs recorded in the store (list, show, HTML report with curves).

Why: every ``accord train`` run (and every recipe's training step) is recorded with its
snapshot hash, models, config, git revision and per-step instruments; this is how to read them.

    accord runs list --kind dpo --json
    accord runs show 12 --html run-12.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(
    help="Training runs: snapshot hash, models, config, per-step instruments.", no_args_is_help=True
)


@app.command("list")
def list_cmd(
    db: DbOption = None,
    json_out: JsonOption = False,
    kind: Annotated[
        str | None, typer.Option(help="Only runs of this kind (sft, rm, dpo, ppo, rloo, grpo).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Newest N runs.")] = 50,
) -> None:
    """List runs, newest first."""
    from ..store.db import session_scope
    from ..train.runs import list_runs

    with session_scope(engine_for(db)) as session:
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "kind": r.kind,
                "status": r.status,
                "snapshot_hash": r.snapshot_hash,
                "base_model": r.base_model,
                "created_at": r.created_at,
                "warnings": len(r.warnings),
                "artifact_path": r.artifact_path,
            }
            for r in list_runs(session, kind=kind, limit=limit)
        ]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "kind", "status", "name", "snapshot", "model", "warnings", "created")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["name"],
            r["snapshot_hash"][:12],
            r["base_model"],
            str(r["warnings"]),
            str(r["created_at"])[:19],
        )
    console.print(table)


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    db: DbOption = None,
    json_out: JsonOption = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML report with curves to this file.")
    ] = None,
) -> None:
    """Show one run: identity, final metrics, warnings, last instruments; optionally an HTML
    report."""
    from ..train.report import run_summary, write_html
    from ..workflows.loop.records import rounds_for_run
    from ..workflows.loop.table import round_table, round_table_html

    engine = engine_for(db)
    try:
        summary = run_summary(engine, run=run)
    except LookupError as e:
        fail(str(e))
    loop = rounds_for_run(engine, summary["metrics"], summary["id"])
    if html is not None:
        extra = ""
        if loop is not None:
            extra = "<h2>Loop rounds</h2>" + round_table_html(loop[1], title=loop[0])
        write_html(engine, run=run, path=html, extra_html=extra)
    if json_out:
        print_json({**summary, "loop_rounds": loop[1] if loop else None})
        return
    console.print(
        f"[bold]run {summary['id']}[/] {summary['kind']} · {summary['status']} · {summary['name']}"
    )
    for key in ("snapshot_hash", "base_model", "ref_model", "git_revision", "artifact_path"):
        console.print(f"  {key}: {summary[key]}")
    table = Table("metric", "value")
    for k, v in summary["metrics"].items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)
    for w in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {w}")
    if summary["error"]:
        console.print(f"[red]error:[/] {summary['error']}")
    console.print(f"{len(summary['steps'])} steps recorded")
    if loop is not None:
        console.print(round_table(loop[1], title=loop[0]))
    if html is not None:
        console.print(f"report written to {html}")
