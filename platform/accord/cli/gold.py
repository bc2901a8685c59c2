"""``accord gold``: pairs with a known answer, mixed into Argilla pushes to measure annotators.

accord gold add gold.jsonl            # lines: {prompt, chosen, rejected} or {pair_id, answer}
accord gold list
accord argilla push --dataset prefs-v1 --gold-rate 0.1
accord audit --json | jq .gold_accuracy
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(
    help="Gold pairs: known answers that measure annotator accuracy.", no_args_is_help=True
)


@app.command("add")
def add(
    file: Annotated[
        Path,
        typer.Argument(help="JSON lines: {prompt, chosen, rejected} or {pair_id, answer: a|b}."),
    ],
    source: Annotated[
        str | None, typer.Option(help="Where the answers come from (default: gold:FILE).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Store every line of FILE as a gold pair (all or nothing; adding again changes nothing)."""
    from ..gold import add_gold_file

    try:
        result = add_gold_file(engine_for(db), file, source=source)
    except ValueError as exc:
        fail(f"{exc}\nnothing from {file} was stored")
    if json_out:
        print_json(result.to_dict())
        return
    console.print(
        f"[bold]{file.name}[/]: {result.rows} gold pairs ({result.created} new, "
        f"{result.updated} changed, {result.unchanged} unchanged; "
        f"{result.new_pairs} pairs created)"
    )


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Gold pairs with their answers."""
    from sqlmodel import Session

    from ..store.crud.gold import list_gold

    with Session(engine_for(db)) as session:
        rows, total = list_gold(session, limit=limit)
    if json_out:
        print_json({"total": total, "items": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table("pair", "answer", "source", title=f"{total} gold pairs")
    for row in rows:
        table.add_row(str(row.pair_id), row.answer, row.source)
    console.print(table)
