"""``accord import`` and ``accord stats``: bring preference data in, count what is there.

    accord import platform/accord/data/sample_preferences.jsonl --format trl
    accord import ultrafeedback.parquet -f ultrafeedback-binarized --label-kind ai
    accord stats --json

Exit codes: 0 done (also when everything was already present), 1 invalid input (the message
names file:line and field; nothing from the file is stored), 2 usage errors.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from .common import DbOption, JsonOption, console, engine_for, err_console, fail, print_json

FORMAT_HELP = (
    "hh-rlhf | trl | ultrafeedback-binarized | accord | csv | hf (parquet file or "
    "save_to_disk folder; trl, ultrafeedback-binarized and hh-rlhf read those too)"
)


def _progress(unit: str) -> Progress:
    counter = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    speed = [TransferSpeedColumn()] if unit == "bytes" else []
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        counter,
        *speed,
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def import_(
    file: Path = typer.Argument(..., help="The file (or dataset folder) to import."),
    format: str = typer.Option(..., "--format", "-f", help=FORMAT_HELP),
    label_kind: str = typer.Option(
        "human",
        "--label-kind",
        help="human: the labels are people's; ai: they came from a model (e.g. UltraFeedback).",
    ),
    skip_invalid: bool = typer.Option(
        False,
        "--skip-invalid",
        help="Write invalid rows to a rejects file and import the rest (default: stop, store "
        "nothing).",
    ),
    rejects: Path = typer.Option(
        None, "--rejects", help="Rejects file for --skip-invalid (default: FILE.rejects.jsonl)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing rejects file."),
    source: str = typer.Option(
        None,
        "--source",
        help="Source name on the imported rows; judge is import:SOURCE (default: file name).",
    ),
    soft_labels: bool = typer.Option(
        False,
        "--soft-labels",
        help="ultrafeedback-binarized: soft label σ(score_chosen - score_rejected) instead of "
        "hard.",
    ),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Rows per write batch."),
    gold: bool = typer.Option(
        False,
        "--gold",
        help="The labels are known answers: store the pairs as gold pairs "
        "(mixed into Argilla pushes with --gold-rate), not as judgments.",
    ),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import preference data; the same file imported twice adds nothing."""
    from ..formats.base import InvalidRecordError
    from ..formats.registry import format_name, progress_total
    from ..importer import import_file
    from ..store.models.judgment import KINDS

    if label_kind not in KINDS:
        fail(f"--label-kind must be one of {', '.join(KINDS)}, got {label_kind!r}", 2)
    try:
        fmt = format_name(format)
    except ValueError as exc:
        fail(str(exc), 2)
    if not file.exists():
        fail(f"{file}: no such file or folder", 2)
    try:
        total, unit = progress_total(file, fmt)
        engine = engine_for(db)
        with _progress(unit) as bar:
            task = bar.add_task(f"import {file.name}", total=total or None)
            report = import_file(
                engine,
                file,
                fmt=fmt,
                label_kind=label_kind,
                skip_invalid=skip_invalid,
                rejects_path=rejects,
                batch_size=batch_size,
                source=source,
                soft_labels=soft_labels,
                force=force,
                gold=gold,
                progress=lambda pos: bar.update(task, completed=pos),
            )
    except InvalidRecordError as exc:
        fail(f"{exc}\nnothing from {file} was stored (use --skip-invalid to import the valid rows)")
    except ValueError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        fail(f"the store refused the data from {file} (nothing was stored): {exc.orig}")
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"[bold]{file.name}[/] read as {fmt}, {label_kind} labels")
    table = Table("table", "new rows")
    for name, n in report.new.items():
        table.add_row(name, str(n))
    console.print(table)
    line = f"{report.records} rows read in {report.seconds:.1f} s"
    if report.updated_judgments:
        line += f", {report.updated_judgments} judgments changed (history kept)"
    console.print(line)
    if report.invalid:
        console.print(
            f"[yellow]{report.invalid} invalid rows skipped[/], see {report.rejects_path}"
        )
    if report.conflicts:
        console.print(
            f"[yellow]{report.conflicts} rows gave a judgment of an earlier row another "
            "answer[/] (rejected; the first answer is kept)"
        )
    if report.gold:
        console.print(f"{report.gold} pairs stored as gold pairs")
    if report.already_present:
        console.print("[green]already present:[/] 0 new rows, the store had all of it")


def stats(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Counts across the store: prompts, responses by role, pairs, judgments by kind, ..."""
    from ..store.crud.stats import store_stats
    from ..store.db import session_scope

    with session_scope(engine_for(db)) as session:
        counts = store_stats(session)
    if json_out:
        print_json(counts)
        return
    table = Table("", "count", "", title="accord store")
    for name, value in counts.items():
        if isinstance(value, dict):
            detail = ", ".join(f"{k} {v}" for k, v in value.items() if k != "total")
            table.add_row(name, str(value.get("total", "")), detail)
        else:
            table.add_row(name, str(value), "")
    console.print(table)
