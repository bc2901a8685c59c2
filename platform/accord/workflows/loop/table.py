"""The loop's round table: one row per round (round 0: the starting policy), the AI judge's
win-rates against round 0 and against the round before with their CIs, the length-controlled
win-rate against round 0, the held-out reward model's win-rates (when the loop has one), mean
length, KL to the reference (sampled and exact), the round's data, escalation, run, and wall
and CPU seconds. The same cells feed the terminal (rich), ``accord runs show --html`` and the
dashboard (``round_cells``; ``round_table_html``).

>>> cells = round_cells([{"round": 1, "vs_initial": {"win_rate": 0.6, "low": 0.5, "high": 0.7}}])
>>> cells["columns"][:3], cells["rows"][1][:2]
(['round', 'win vs 0 [CI]', 'win vs k−1 [CI]'], ['1', '0.600 [0.500, 0.700]'])
"""

from __future__ import annotations

import html
from typing import Any

from rich.table import Table

LEFT = ("snapshot", "", "stop")


def _win(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("win_rate") is None:
        return "—"
    if cell.get("low") is None:
        return f"{cell['win_rate']:.3f}"
    return f"{cell['win_rate']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]"


def _num(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"


def _escalated(r: dict[str, Any]) -> str:
    e = r.get("escalation")
    if not e:
        return ""
    return f"{e.get('labelled', 0)}/{e.get('escalated', 0)}"


def _columns(with_rm: bool, with_escalation: bool) -> list[str]:
    columns = ["round", "win vs 0 [CI]", "win vs k−1 [CI]", "LC win vs 0 [CI]"]
    if with_rm:
        columns += ["RM win vs 0 [CI]", "RM win vs k−1 [CI]", "reward"]
    columns += ["length", "KL to ref", "KL exact", "judged", "kept"]
    if with_escalation:
        columns += ["humans"]
    return columns + ["snapshot", "run", "", "s wall/cpu", "stop"]


def _row(r: dict[str, Any], with_rm: bool, with_escalation: bool) -> list[str]:
    seconds = f"{_num(r.get('seconds'), '.0f')} / {_num(r.get('cpu_seconds'), '.0f')}"
    done = "trained" if r.get("trained") else "reused"
    cells = [str(r["round"]), _win(r.get("vs_initial")), _win(r.get("vs_previous"))]
    cells += [_win((r.get("vs_initial") or {}).get("lc"))]
    if with_rm:
        cells += [_win(r.get("rm_vs_initial")), _win(r.get("rm_vs_previous"))]
        cells += [_num(r.get("reward"))]
    cells += [_num(r.get("length"), ".1f"), _num(r.get("kl_to_ref")), _num(r.get("kl_exact"))]
    cells += [str(r.get("judged_pairs", "")), str(r.get("train_pairs", ""))]
    if with_escalation:
        cells += [_escalated(r)]
    return cells + [
        r.get("snapshot", ""),
        str(r.get("run_id", "")),
        done,
        seconds,
        r.get("stop") or "",
    ]


def round_cells(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The table as text: ``columns``, ``rows`` (round 0 first) and its ``caption``."""
    with_rm = any(r.get("rm_vs_initial") for r in rounds)
    with_escalation = any(r.get("escalation") for r in rounds)
    columns = _columns(with_rm, with_escalation)
    rows: list[list[str]] = []
    if rounds:
        start = ["0", "—", "—", "—"]
        if with_rm:
            start += ["—", "—", _num(rounds[0].get("initial_reward"))]
        start += [_num(rounds[0].get("initial_length"), ".1f"), "0.000", "0.000", "", ""]
        start += [""] * with_escalation + ["", "", "start", "", ""]
        rows = [start, *(_row(r, with_rm, with_escalation) for r in rounds)]
    cells = [r["vs_initial"] for r in rounds if isinstance(r.get("vs_initial"), dict)]
    confidence = cells[0].get("confidence", 0.95) if cells else 0.95
    judges = "AI judge (both orders)" + (" and held-out reward model" if with_rm else "")
    caption = (
        f"win-rates by the {judges}, paired bootstrap {confidence:.0%} CI over held-out "
        "prompts; LC: length-controlled; KL in nats per response"
    )
    return {"columns": columns, "rows": rows, "caption": caption}


def round_rows(rounds: list[dict[str, Any]]) -> list[list[str]]:
    """The table's cells as text (round 0 first)."""
    return round_cells(rounds)["rows"]


def round_table(rounds: list[dict[str, Any]], *, title: str = "rounds") -> Table:
    """The rich table of ``rounds`` (records of ``accord.workflows.loop.rounds.run_round``)."""
    cells = round_cells(rounds)
    table = Table(title=f"{title} ({cells['caption']})", title_justify="left")
    for column in cells["columns"]:
        table.add_column(column, justify="left" if column in LEFT else "right")
    for row in cells["rows"]:
        table.add_row(*row)
    return table


def round_table_html(rounds: list[dict[str, Any]], *, title: str = "rounds") -> str:
    """The same table as an HTML fragment (a ``<table class="rounds">`` with its caption)."""
    esc = html.escape
    cells = round_cells(rounds)
    head = "".join(f"<th>{esc(c)}</th>" for c in cells["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in cells["rows"]
    )
    return (
        f'<table class="rounds"><caption>{esc(title)}: {esc(cells["caption"])}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
