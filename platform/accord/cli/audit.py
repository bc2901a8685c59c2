"""``accord audit``: agreement audits of the store, a job or a snapshot, and the
disagreement queue.

    accord audit                         # rich tables for the whole store
    accord audit --job 3 --json          # one job's pairs, as JSON
    accord audit --snapshot hh-v1 --html audit.html
    accord audit queue --limit 50 --push-dataset adjudication
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(help="Agreement audits: how far to trust each label source.")

JobOption = Annotated[
    int | None, typer.Option("--job", help="Audit one job's pairs (created or judged by it).")
]
SnapshotOption = Annotated[
    str | None, typer.Option("--snapshot", help="Audit the pairs of the snapshot with this name.")
]


def _scope(job: int | None, snapshot: str | None):
    from ..audit.loader import AuditScope

    try:
        return AuditScope(job_id=job, snapshot=snapshot)
    except ValueError as exc:
        fail(str(exc), 2)


@app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    db: DbOption = None,
    job: JobOption = None,
    snapshot: SnapshotOption = None,
    json_out: JsonOption = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a standalone HTML report here.")
    ] = None,
    resamples: Annotated[
        int, typer.Option("--resamples", help="Bootstrap resamples (0: no intervals).")
    ] = 1000,
    confidence: Annotated[
        float, typer.Option("--confidence", help="Confidence level of the intervals.")
    ] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    bins: Annotated[int, typer.Option("--bins", help="Bins of the reliability curve.")] = 10,
) -> None:
    """Human–human and human–AI agreement, calibration, position consistency, annotators,
    length bias and reward-model accuracy."""
    if ctx.invoked_subcommand is not None:
        return
    from ..audit.bootstrap import BootstrapConfig
    from ..audit.html_report import write_html
    from ..audit.render_text import print_report
    from ..audit.report import AuditConfig, run_audit

    try:
        config = AuditConfig(
            bootstrap=BootstrapConfig(
                n_resamples=resamples, confidence_level=confidence, seed=seed
            ),
            n_bins=bins,
        )
    except ValueError as exc:
        fail(str(exc), 2)
    scope = _scope(job, snapshot)
    engine = engine_for(db)
    try:
        if json_out:
            report = run_audit(engine, scope, config=config).to_dict()
        else:
            with console.status(f"auditing {scope.describe()}…"):
                report = run_audit(engine, scope, config=config).to_dict()
    except ValueError as exc:
        fail(str(exc))
    if html is not None:
        try:
            write_html(report, html)
        except OSError as exc:
            fail(f"cannot write {html}: {exc}")
    if json_out:
        print_json(report)
        return
    print_report(report, console)
    if html is not None:
        console.print(f"HTML report written to [bold]{html}[/]")


@app.command("queue")
def queue(
    db: DbOption = None,
    job: JobOption = None,
    snapshot: SnapshotOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Most contested pairs to list or push.")
    ] = 100,
    push_dataset: Annotated[
        str | None,
        typer.Option(
            "--push-dataset",
            help="Push the selected pairs to this Argilla dataset for adjudication.",
        ),
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Argilla workspace of the dataset.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Pairs where humans disagree or humans and AI conflict, most contested first."""
    from ..audit.disagreements import score_disagreements
    from ..audit.loader import load_audit_data

    scope = _scope(job, snapshot)
    engine = engine_for(db)
    try:
        rows = score_disagreements(load_audit_data(engine, scope)).top(limit)
    except ValueError as exc:
        fail(str(exc))
    pushed = None
    if push_dataset is not None and rows:
        # Imported here: the Argilla SDK is an optional dependency of accord.
        try:
            from ..feedback.argilla.push import push_pairs
        except ImportError as exc:
            fail(f"pushing needs the Argilla extra (pip install 'accord[argilla]'): {exc}")
        try:
            pushed = push_pairs(
                engine,
                pair_ids=[r["pair_id"] for r in rows],
                dataset=push_dataset,
                workspace=workspace,
            ).to_dict()
        except (ValueError, RuntimeError, OSError) as exc:
            fail(f"push to Argilla dataset {push_dataset!r} failed: {exc}")
    if json_out:
        print_json({"pairs": rows, "pushed": pushed})
        return
    from rich.table import Table

    table = Table(title=f"Disagreement queue · {scope.describe()}", title_justify="left")
    for col in ("pair", "score", "human disagreement", "AI conflict", "human labels", "AI labels"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["pair_id"]),
            f"{r['score']:.3f}",
            f"{r['human_disagreement']:.3f}",
            f"{r['ai_conflict']:.3f}",
            str(r["n_human"]),
            str(r["n_ai"]),
        )
    console.print(table if rows else "No contested pairs: humans agree and AI labels match them.")
    if pushed:
        console.print(
            f"pushed {pushed['selected']} pairs to Argilla dataset [bold]{pushed['dataset']}[/] "
            f"({pushed['created']} new, {pushed['updated']} updated) {pushed['url']}"
        )
