"""``accord calibrate``: fit a judge's soft labels to what humans say, and store the map.

    accord calibrate --judge accord/smollm2-135m-instruct --method temperature
    accord calibrate --judge J --constitution harmlessness --principle harmless --method isotonic
    accord calibrate list

Fits on the pairs that carry both the judge's soft label and a human label, reports ECE and
Brier before → after out of sample (cross-fitting) with 95 % bootstrap intervals, and stores
the map as the next version (same inputs: the same calibration back). Snapshots use it with
``accord snapshot create … --calibration ID``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(help="Calibrate AI judges against human labels.", invoke_without_command=True)

MethodOption = Annotated[str, typer.Option("--method", help="temperature | platt | isotonic.")]


def _public(row) -> dict:
    from ..store.models import CalibrationPublic

    return CalibrationPublic.model_validate(row).model_dump(mode="json")


def _fmt(estimate: dict) -> str:
    lo, hi = estimate["ci"]
    return f"{estimate['value']:.4f} [{lo:.4f}, {hi:.4f}]"


@app.callback()
def calibrate(
    ctx: typer.Context,
    judge: Annotated[str | None, typer.Option("--judge", help="Judge model id.")] = None,
    constitution: Annotated[
        str | None,
        typer.Option("--constitution", help="Constitution name, name@version or content hash."),
    ] = None,
    principle: Annotated[
        str,
        typer.Option(
            "--principle", help="One principle's labels (default: the judge's aggregate)."
        ),
    ] = "",
    method: MethodOption = "temperature",
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-fitting folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Fold assignment and bootstrap.")] = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fit and store a calibration of --judge's soft labels against human labels."""
    if ctx.invoked_subcommand is not None:
        return
    if not judge:
        fail("--judge is required (the judge model id, as stored on its judgments)", code=2)
    from ..audit.calibrate import calibrate_judge
    from ..audit.calibration_data import CalibrationDataError

    try:
        outcome = calibrate_judge(
            engine_for(db),
            judge=judge,
            constitution=constitution,
            principle=principle,
            method=method,
            folds=folds,
            seed=seed,
        )
    except (CalibrationDataError, ValueError) as exc:
        fail(str(exc))
    row = outcome.calibration
    if json_out:
        print_json({**_public(row), "created": outcome.created})
        return
    verb = "stored" if outcome.created else "already stored"
    console.print(
        f"[green]{verb}[/] calibration {row.id} (v{row.version}) of {row.judge}"
        f"{' / ' + row.principle if row.principle else ''}: {row.method}, "
        f"n = {row.n} pairs",
        soft_wrap=True,
    )
    table = Table("metric", "before", "after (out of sample)", "change")
    for metric in ("ece", "brier"):
        r = row.report[metric]
        table.add_row(
            metric.upper() if metric == "ece" else "Brier",
            _fmt(r["before"]),
            _fmt(r["after"]),
            _fmt(r["change"]),
        )
    console.print(table)
    console.print(f"[dim]use it: accord snapshot create NAME --calibration {row.id}[/]")


@app.command("list")
def list_(
    judge: Annotated[str | None, typer.Option("--judge")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stored calibrations."""
    from sqlmodel import Session

    from ..store.crud.calibrations import list_calibrations

    with Session(engine_for(db)) as session:
        rows = [_public(r) for r in list_calibrations(session, judge=judge)]
    if json_out:
        print_json(rows)
        return
    table = Table(
        "id", "judge", "principle", "method", "v", "n", "ECE before → after", "Brier before → after"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["judge"],
            r["principle"] or "-",
            r["method"],
            str(r["version"]),
            str(r["n"]),
            f"{r['ece_before']:.3f} → {r['ece_after']:.3f}",
            f"{r['brier_before']:.3f} → {r['brier_after']:.3f}",
        )
    console.print(table)
