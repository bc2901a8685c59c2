"""``accord constitutions``: list the bundled ones, show one, validate a file.

accord constitutions list
accord constitutions show harmlessness
accord constitutions validate my-constitution.yaml
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .common import JsonOption, console, fail, print_json

app = typer.Typer(
    help="Constitutions: principles for critique, revision and judging.", no_args_is_help=True
)


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """The bundled constitutions with their version and content hash."""
    from ..constitutions import list_constitution_files, load_constitution

    rows = []
    for path in list_constitution_files():
        c = load_constitution(path)
        rows.append(
            {
                "name": c.name,
                "version": c.version,
                "principles": len(c.principles),
                "content_hash": c.content_hash,
                "file": str(path),
                "description": c.description,
            }
        )
    if json_out:
        print_json(rows)
        return
    table = Table("name", "version", "principles", "hash", "description")
    for r in rows:
        table.add_row(
            r["name"],
            r["version"],
            str(r["principles"]),
            r["content_hash"][:12],
            r["description"][:70],
        )
    console.print(table)


@app.command()
def show(
    name: str = typer.Argument(..., help="Bundled name or YAML path."), json_out: JsonOption = False
) -> None:
    """A constitution's principles."""
    from ..constitutions import DocumentError, load_constitution

    try:
        c = load_constitution(name)
    except (DocumentError, FileNotFoundError) as exc:
        fail(str(exc))
    if json_out:
        print_json({**c.model_dump(mode="json"), "content_hash": c.content_hash})
        return
    console.print(f"[bold]{c.name}[/] v{c.version} [dim]{c.content_hash[:12]}[/]\n{c.description}")
    for p in c.principles:
        console.print(
            f"\n[bold cyan]{p.id}[/]\n  critique: {p.critique_request}\n"
            f"  revision: {p.revision_request}\n  compare:  {p.comparison_question}"
        )
    if c.examples:
        console.print(f"\n[dim]{len(c.examples)} few-shot example(s)[/]")


@app.command()
def validate(file: Path = typer.Argument(..., help="Constitution YAML file.")) -> None:
    """Check a constitution file; errors name the line and field."""
    from ..constitutions import Constitution, DocumentError, validate_document

    try:
        c = validate_document(Constitution, file)
    except DocumentError as exc:
        fail(str(exc))
    console.print(
        f"[green]ok[/]: {c.name} v{c.version}, {len(c.principles)} principles, "
        f"hash {c.content_hash[:12]}"
    )
