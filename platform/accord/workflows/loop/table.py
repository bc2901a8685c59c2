"""The loop's round table: one row per round (round 0: the starting policy), win-rates against
round 0 and against the round before with their CIs, mean length, KL to the reference, the
round's data, run and wall time."""

from __future__ import annotations

from typing import Any

from rich.table import Table

COLUMNS = (
    "round",
    "win vs 0 [CI]",
    "win vs k−1 [CI]",
    "length",
    "KL to ref",
    "judged",
    "kept",
    "snapshot",
    "run",
    "",
    "s",
    "stop",
)


def _win(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("win_rate") is None:
        return "—"
    if cell.get("low") is None:
        return f"{cell['win_rate']:.3f}"
    return f"{cell['win_rate']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def _num(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"


def round_rows(rounds: list[dict[str, Any]]) -> list[list[str]]:
    """The table's cells as text (round 0 first)."""
    if not rounds:
        return []
    rows = [
        [
            "0",
            "—",
            "—",
            _num(rounds[0].get("initial_length"), ".1f"),
            "0.000",
            "",
            "",
            "",
            "",
            "start",
            "",
            "",
        ]
    ]
    for r in rounds:
        rows.append(
            [
                str(r["round"]),
                _win(r.get("vs_initial")),
                _win(r.get("vs_previous")),
                _num(r.get("length"), ".1f"),
                _num(r.get("kl_to_ref")),
                str(r.get("judged_pairs", "")),
                str(r.get("train_pairs", "")),
                r.get("snapshot", ""),
                str(r.get("run_id", "")),
                "trained" if r.get("trained") else "reused",
                _num(r.get("seconds"), ".1f"),
                r.get("stop") or "",
            ]
        )
    return rows


def round_table(rounds: list[dict[str, Any]], *, title: str = "rounds") -> Table:
    confidence = next(
        (
            r["vs_initial"].get("confidence")
            for r in rounds
            if isinstance(r.get("vs_initial"), dict)
        ),
        0.95,
    )
    table = Table(
        title=f"{title} (AI-judged win-rates, both orders, paired bootstrap "
        f"{confidence:.0%} CI over held-out prompts)",
        title_justify="left",
    )
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("snapshot", "", "stop") else "right")
    for row in round_rows(rounds):
        table.add_row(*row)
    return table
