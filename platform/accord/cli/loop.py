"""``accord loop``: the closed loop's round table.

accord loop show iterative-rlaif
accord loop show iterative-rlaif --json
"""

from __future__ import annotations

import typer

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(
    help="Iterative RLAIF loops (recipe steps of kind loop): their rounds.", no_args_is_help=True
)


@app.command()
def show(
    name: str = typer.Argument(..., help="Recipe name (the job's name)."),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The round table of the newest run of recipe NAME: win-rates vs rounds 0 and k−1 with
    CIs, length, KL, the round's snapshot and DPO run (lineage: --json lists each round's
    response, pair and judgment ids)."""
    from ..workflows.loop.records import loop_rounds
    from ..workflows.loop.table import round_table

    job, loops = loop_rounds(engine_for(db), name)
    if job is None:
        fail(f"no job named {name!r} has loop rounds (run a recipe with a loop step first)")
    if json_out:
        print_json({"job_id": job.id, "status": job.status, "loops": loops})
        return
    console.print(f"[bold]job {job.id}[/] {name!r}: {job.status}")
    for step, rounds in loops.items():
        console.print(round_table(rounds, title=f"{name} / {step}: rounds"))
