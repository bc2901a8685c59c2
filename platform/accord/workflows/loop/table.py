"""The loop's round table: one row per round (round 0: the starting policy), win-rates against
round 0 and against the round before with their CIs, mean length, KL to the reference, the
round's data, run, and wall and CPU seconds."""

from __future__ import annotations

from typing import Any

from rich.table import Table

COLUMNS = ("round", "win vs 0 [CI]", "win vs k−1 [CI]", "length", "KL to ref", "judged", "kept")
COLUMNS += ("snapshot", "run", "", "s wall/cpu", "stop")
LEFT = ("snapshot", "", "stop")


def _win(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("win_rate") is None:
        return "—"
    if cell.get("low") is None:
        return f"{cell['win_rate']:.3f}"
    return f"{cell['win_rate']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def _num(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"


def _row(r: dict[str, Any]) -> list[str]:
    seconds = f"{_num(r.get('seconds'), '.0f')} / {_num(r.get('cpu_seconds'), '.0f')}"
    done = "trained" if r.get("trained") else "reused"
    cells = [str(r["round"]), _win(r.get("vs_initial")), _win(r.get("vs_previous"))]
    cells += [_num(r.get("length"), ".1f"), _num(r.get("kl_to_ref"))]
    cells += [str(r.get("judged_pairs", "")), str(r.get("train_pairs", ""))]
    return cells + [
        r.get("snapshot", ""),
        str(r.get("run_id", "")),
        done,
        seconds,
        r.get("stop") or "",
    ]


def round_rows(rounds: list[dict[str, Any]]) -> list[list[str]]:
    """The table's cells as text (round 0 first)."""
    if not rounds:
        return []
    start = ["0", "—", "—", _num(rounds[0].get("initial_length"), ".1f"), "0.000"]
    return [start + ["", "", "", "", "start", "", ""], *(_row(r) for r in rounds)]


def round_table(rounds: list[dict[str, Any]], *, title: str = "rounds") -> Table:
    """The rich table of ``rounds`` (records of ``accord.workflows.loop.rounds.run_round``)."""
    cells = [r["vs_initial"] for r in rounds if isinstance(r.get("vs_initial"), dict)]
    confidence = cells[0].get("confidence", 0.95) if cells else 0.95
    table = Table(
        title=f"{title} (AI-judged win-rates, both orders, paired bootstrap "
        f"{confidence:.0%} CI over held-out prompts)",
        title_justify="left",
    )
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in LEFT else "right")
    for row in round_rows(rounds):
        table.add_row(*row)
    return table
