"""``accord jobs``: list jobs, show one with its error records.

accord jobs list --json
accord jobs show 3
"""

from __future__ import annotations

import typer
from rich.table import Table

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(
    help="Recipe and training jobs: status, progress and error records.", no_args_is_help=True
)


def _job_dict(job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "status": job.status,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "progress_message": job.progress_message,
        "error": job.error,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "result": job.result,
    }


@app.command("list")
def list_(
    status: str = typer.Option(None, help="Only jobs with this status."),
    kind: str = typer.Option(None, help="Only jobs of this kind (recipe, train, ...)."),
    limit: int = typer.Option(50, min=1, help="At most this many (newest first)."),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Jobs, newest first."""
    from ..store.crud.jobs import list_jobs
    from ..store.db import session_scope

    with session_scope(engine_for(db)) as session:
        jobs, total = list_jobs(session, status=status, kind=kind, limit=limit)
        rows = [_job_dict(j) for j in jobs]
    if json_out:
        print_json({"total": total, "jobs": rows})
        return
    table = Table("id", "kind", "name", "status", "progress", "errors", "finished")
    for r in rows:
        errors = (r["result"] or {}).get("errors", "")
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["name"],
            r["status"],
            f"{r['progress_done']}/{r['progress_total']}",
            str(errors),
            str(r["finished_at"] or ""),
        )
    console.print(table)
    console.print(f"[dim]{total} job(s)[/]")


@app.command()
def show(
    job_id: int = typer.Argument(..., help="Job id."),
    all_errors: bool = typer.Option(False, "--all", help="Include resolved error records."),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A job's status, progress, per-step results and its error records."""
    from ..store.crud.jobs import get_job, list_errors
    from ..store.db import session_scope

    with session_scope(engine_for(db)) as session:
        job = get_job(session, job_id=job_id)
        if job is None:
            fail(f"no job with id {job_id}")
        data = _job_dict(job)
        errors = [
            {
                "id": e.id,
                "step": e.step,
                "item_key": e.item_key,
                "cause": e.cause,
                "message": e.message,
                "attempts": e.attempts,
                "resolved": e.resolved,
                "updated_at": e.updated_at,
            }
            for e in list_errors(session, job_id=job_id, unresolved_only=not all_errors)
        ]
    data["errors"] = errors
    if json_out:
        print_json(data)
        return
    console.print(
        f"[bold]job {data['id']}[/] {data['kind']} {data['name']!r}: {data['status']} "
        f"({data['progress_done']}/{data['progress_total']})"
    )
    if data["error"]:
        console.print(f"[red]error:[/] {data['error']}")
    from ..workflows.loop.records import rounds_of_result
    from ..workflows.loop.table import round_table

    loops = rounds_of_result(data["result"])
    for name, summary in ((data["result"] or {}).get("steps") or {}).items():
        shown = {k: v for k, v in summary.items() if not (name in loops and k == "rounds")}
        console.print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    for name, rounds in loops.items():  # a loop's rounds as its table (also while it runs)
        console.print(round_table(rounds, title=f"{data['name']} / {name}: rounds"))
    if errors:
        table = Table("id", "step", "cause", "attempts", "resolved", "item", "message")
        for e in errors:
            table.add_row(
                str(e["id"]),
                e["step"],
                e["cause"],
                str(e["attempts"]),
                "yes" if e["resolved"] else "no",
                e["item_key"][:12],
                e["message"][:80],
            )
        console.print(table)
    else:
        console.print("[green]no error records[/]")
