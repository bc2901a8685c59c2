"""The audit report as rich tables in the terminal.

>>> import io
>>> from rich.console import Console
>>> from accord.store.db import open_store
>>> from accord.audit.report import run_audit
>>> out = io.StringIO()
>>> print_report(run_audit(open_store("sqlite://")).to_dict(), Console(file=out, width=100))
>>> "Human–human agreement" in out.getvalue()
True
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

_MAX_ANNOTATOR_ROWS = 25


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def fmt_ci(e: dict | None) -> str:
    if not e or e.get("value") is None:
        return "–"
    if e.get("low") is None:
        return f"{e['value']:.3f}"
    return f"{e['value']:.3f} [dim][{e['low']:.3f}, {e['high']:.3f}][/dim]"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    return table


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    c = report["counts"]
    console.print(
        f"[bold]Agreement audit[/bold] · {report['scope']['description']} · "
        f"{c['judgments']:,} judgments ({c['human_judgments']:,} human, "
        f"{c['ai_judgments']:,} AI) on {c['pairs']:,} pairs · "
        f"{report['config']['n_resamples']} resamples, "
        f"{report['config']['confidence_level']:.0%} intervals"
    )

    hh = report["human_human"]
    t = _table("Human–human agreement", "metric", "value [interval]", "units")
    t.add_row("Krippendorff's α (nominal)", fmt_ci(hh["alpha"]), str(hh["alpha"]["n_units"]))
    t.add_row("pairwise agreement", fmt_ci(hh["agreement"]), str(hh["agreement"]["n_units"]))
    fk = hh["fleiss_kappa"]
    t.add_row(
        f"Fleiss' κ ({fk['raters_per_unit']} raters/unit)" if fk else "Fleiss' κ",
        fmt_ci(fk),
        str(fk["n_units"]) if fk else "–",
    )
    console.print(t)

    t = _table("Human–AI agreement", "by", "n", "agreement", "Cohen's κ")
    for label, key, rows in (
        ("judge", "judge", report["human_ai"]["by_judge"]),
        ("principle", "principle", report["human_ai"]["by_principle"]),
        ("constitution", "constitution", report["human_ai"]["by_constitution"]),
    ):
        for row in rows:
            t.add_row(
                f"{label}: {row[key]}",
                str(row["n"]),
                fmt_ci(row["agreement"]),
                fmt_ci(row["kappa"]),
            )
    console.print(t)

    t = _table("Calibration of soft AI labels", "judge", "n", "Brier", "ECE")
    for row in report["calibration"]:
        t.add_row(row["judge"], str(row["n"]), fmt(row["brier"]), fmt(row["ece"]))
    console.print(t)

    t = _table("AI position consistency", "judge", "pairs", "consistency", "first shown wins")
    for row in report["position_consistency"]["by_judge"]:
        t.add_row(
            row["judge"],
            str(row["n_pairs"]),
            fmt_ci(row["consistency"]),
            fmt(row["first_position_wins"]),
        )
    console.print(t)

    for m in report["principle_agreement"]:
        t = _table(
            f"Principle agreement · {m['judge']} · {m['constitution']}", "", *m["principles"]
        )
        for p, row in zip(m["principles"], m["agreement"]):
            t.add_row(p, *(fmt(x) for x in row))
        console.print(t)

    rows = sorted(report["annotators"], key=lambda r: (r["agreement"] is None, r["agreement"] or 0))
    t = _table(
        "Annotators (least agreement first)",
        "annotator",
        "labels",
        "shared",
        "agreement",
        "κ",
        "gold items",
        "gold agreement",
    )
    for r in rows[:_MAX_ANNOTATOR_ROWS]:
        t.add_row(
            r["username"] + (" (gold)" if r["is_gold"] else ""),
            str(r["n_labels"]),
            str(r["n_overlap"]),
            fmt(r["agreement"]),
            fmt(r["kappa"]),
            str(r["n_gold_items"]),
            fmt(r["gold_agreement"]),
        )
    if len(rows) > _MAX_ANNOTATOR_ROWS:
        t.caption = f"{len(rows) - _MAX_ANNOTATOR_ROWS} more in --json / --html"
    console.print(t)

    t = _table("Length bias", "label source", "labels", "ties", "longer wins")
    for row in report["length_bias"]:
        t.add_row(
            row["source"], str(row["n_labels"]), fmt(row["tie_rate"]), fmt_ci(row["longer_wins"])
        )
    console.print(t)

    if report.get("judge_outputs"):
        t = _table("Judge outputs", "judge", "judgments", "unparsable", "truncated choice")
        for row in report["judge_outputs"]:
            t.add_row(
                row["judge"],
                str(row["judgments"]),
                f"{row['unparsable']} ({fmt(row['unparsable_share'])})",
                f"{row['truncated']} ({fmt(row['truncated_share'])})",
            )
        console.print(t)

    if report.get("gold_accuracy"):
        t = _table(
            "Gold pairs (accuracy on known answers)",
            "annotator",
            "gold labels",
            "correct",
            "accuracy",
            "interval",
        )
        for row in report["gold_accuracy"]:
            t.add_row(
                row["annotator"],
                str(row["n_gold"]),
                str(row["correct"]),
                fmt(row["accuracy"]),
                f"[{fmt(row['ci_low'])}, {fmt(row['ci_high'])}] "
                f"({row['confidence_level']:.0%} Wilson)",
            )
        console.print(t)

    if report["reward_models"]:
        t = _table("Reward models", "run", "snapshot", "held-out accuracy")
        for run in report["reward_models"]:
            t.add_row(
                str(run["name"] or run["run_id"]),
                str(run["snapshot"] or run["snapshot_hash"][:12]),
                fmt(run["rm_heldout_accuracy"]),
            )
        console.print(t)
