"""The ``accord`` command: every sub-command is a thin layer over the package's functions.

Run ``accord --help``; each command has ``--help`` too. Exit codes: 0 success, 1 bad input or
failed work (the message names the file, line or field), 2 usage errors.

stdout carries results only (``--json`` for scripts); accord's progress goes to stderr, and the
libraries' warnings, weight-loading reports and progress bars to ``<home>/logs/accord.log``
(``accord --verbose ...`` shows them on stderr as well).
"""

from __future__ import annotations

import os
import sys

import typer

from . import argilla as argilla_cli
from . import audit as audit_cli
from . import calibrate as calibrate_cli
from . import constitutions as constitutions_cli
from . import data as data_cli
from . import db as db_cli
from . import escalate as escalate_cli
from . import gold as gold_cli
from . import jobs as jobs_cli
from . import judge as judge_cli
from . import loop as loop_cli
from . import models as models_cli
from . import run as run_cli
from . import runs as runs_cli
from . import service as service_cli
from . import snapshot as snapshot_cli
from . import train as train_cli

app = typer.Typer(
    name="accord",
    help="accord: preference data born, checked and used in one place — store, RLAIF jobs, "
    "Argilla labels, agreement audits, curated snapshots and training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    db: str = typer.Option(
        None, "--db", help="Store URL for every command (sets ACCORD_DATABASE_URL)."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also show library warnings, weight-loading reports and progress bars on stderr "
        "(they always go to <home>/logs/accord.log).",
    ),
) -> None:
    from ..library_logs import quiet_libraries

    quiet_libraries(
        verbose=verbose or os.environ.get("ACCORD_VERBOSE") == "1",
        command=" ".join(["accord", *sys.argv[1:]]),
    )
    if db:
        from ..settings import get_settings

        os.environ["ACCORD_DATABASE_URL"] = db
        get_settings.cache_clear()


# The main job first: recipes run the whole loop.
app.command("run")(run_cli.run)
app.command("import")(data_cli.import_)
app.command("stats")(data_cli.stats)
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(loop_cli.app, name="loop")
app.add_typer(constitutions_cli.app, name="constitutions")
app.add_typer(judge_cli.judge_app, name="judge")
app.add_typer(judge_cli.critique_app, name="critique")
app.add_typer(models_cli.app, name="models")
app.add_typer(argilla_cli.app, name="argilla")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(calibrate_cli.app, name="calibrate")
app.command("escalate")(escalate_cli.escalate)
app.add_typer(gold_cli.app, name="gold")
app.add_typer(snapshot_cli.app, name="snapshot")
app.command("export")(snapshot_cli.export)
app.add_typer(train_cli.app, name="train")
app.add_typer(runs_cli.app, name="runs")
app.add_typer(db_cli.app, name="db")
app.command("serve")(service_cli.serve)
app.command("worker")(service_cli.worker)
app.add_typer(service_cli.users_app, name="users")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
