"""The report: what each judge produced per pair, and ONE table of every workload's figures
with the ratios accord / distilabel (time and memory: below 1 is better for accord; tokens/s
and pairs/s: above 1), as a rich table on the console or as Markdown for the README."""

from __future__ import annotations

import textwrap

COLUMNS = ("workload", "figure", "accord", "distilabel", "accord / distilabel")


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def judge_summary(tool: str, found: dict) -> dict:
    """accord: P(A) per order (canonical: P that response_a is better) → how often both orders
    agree on the winner, and their mean gap. distilabel: one rating per response parsed from
    the judge's text → the share parsed, unparsable, and tied."""
    pairs = [p for ps in found["judged"].values() for p in ps]
    if tool == "accord":
        both = [p for p in pairs if p.get("ab") is not None and p.get("ba") is not None]
        consistent = [p for p in both if (p["ab"] > 0.5) == (p["ba"] > 0.5)]
        return {
            "pairs": len(pairs), "produces": "P(A) in both orders (soft, from log-probs)",
            "with_both_orders": len(both),
            "position_consistent": len(consistent) / len(both) if both else None,
            "mean_abs_order_gap":
                sum(abs(p["ab"] - p["ba"]) for p in both) / len(both) if both else None,
            "mean_prob_a": sum(p["ab"] + p["ba"] for p in both) / (2 * len(both)) if both else None,
        }  # fmt: skip
    parsed = [p for p in pairs if rated_each(p)]
    ties = [p for p in parsed if len(set(p["ratings"])) == 1]
    return {
        "pairs": len(pairs), "produces": "a rating 1-5 per response, parsed from generated text",
        "parsed": len(parsed) / len(pairs) if pairs else None,
        "unparsable": 1 - len(parsed) / len(pairs) if pairs else None,
        "ties_among_parsed": len(ties) / len(parsed) if parsed else None,
        "position_consistent": None,  # one presentation order only: not measurable
    }  # fmt: skip


def rated_each(pair: dict) -> bool:
    """One integer rating per response (UltraFeedback splits the text at blank lines, so a
    judge that writes more or fewer sections yields more or fewer ratings than responses)."""
    ratings = pair["ratings"] or []
    expected = pair.get("responses", len(ratings))
    return len(ratings) == expected > 0 and all(isinstance(r, int) for r in ratings)


def killed_at(kill: dict) -> str:
    if not kill["killed"]:
        return "finished first"
    return f"{kill['killed_at_rows']}/{kill['rows_planned']} at {kill['killed_after_s']:.1f} s"


def rerun_time(kill: dict) -> str:
    if kill["rerun_finished"]:
        return f"{kill['rerun_s']:.1f}"
    if kill.get("rerun_failed"):
        reason = textwrap.shorten(kill["rerun_failed"], width=90, placeholder=" …")
        return f"failed after {kill['rerun_s']:.1f}: {reason}"
    return f"hung, stopped at {kill['rerun_limit_s']:.0f}"


def _load(run: dict) -> str:
    load = run.get("load_average")
    return "—" if load is None else f"{load:.1f}"


def per_pair(tool: str, judge: dict) -> str:
    if tool == "accord":
        gap = judge["mean_abs_order_gap"]
        return (
            f"P(A) both orders, {fmt_pct(judge['position_consistent'])} position-consistent, "
            f"mean |P_ab − P_ba| {'—' if gap is None else f'{gap:.2f}'}"
        )
    return (
        f"ratings parsed {fmt_pct(judge['parsed'])}, unparsable {fmt_pct(judge['unparsable'])}, "
        f"ties {fmt_pct(judge['ties_among_parsed'])}"
    )


def table_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """Every workload's figures, one row per figure: (workload, figure, accord, distilabel,
    accord / distilabel)."""
    rows: list[tuple[str, str, str, str, str]] = []
    for workload, r in results.items():
        a, d = r["accord"], r["distilabel"]
        mine: list[tuple[str, str, str, str]] = []

        def add(figure: str, va: str, vd: str, rt: str = "", mine=mine) -> None:
            mine.append((figure, va, vd, rt))

        add("wall s", f"{a['wall_s']:.1f}", f"{d['wall_s']:.1f}", ratio(a["wall_s"], d["wall_s"]))
        add("output tokens/s", f"{a['tokens_per_s']:.1f}", f"{d['tokens_per_s']:.1f}",
            ratio(a["tokens_per_s"], d["tokens_per_s"]))  # fmt: skip
        if "judge" in a and "judge" in d:
            add("pairs/s", f"{a['pairs_per_s']:.2f}", f"{d['pairs_per_s']:.2f}",
                ratio(a["pairs_per_s"], d["pairs_per_s"]))  # fmt: skip
            add("per pair", per_pair("accord", a["judge"]), per_pair("distilabel", d["judge"]))
        add("peak RSS MB", f"{a['peak_rss_mb']:.0f}", f"{d['peak_rss_mb']:.0f}",
            ratio(a["peak_rss_mb"], d["peak_rss_mb"]))  # fmt: skip
        if r.get("server_rss_mb"):
            add("vLLM server RSS MB (shared, not counted)", f"{r['server_rss_mb']:.0f}", "")
        add("rows", str(a["rows"]), str(d["rows"]))
        add("load average at the end", _load(a), _load(d))
        if "kill" in a and "kill" in d:
            ka, kd = a["kill"], d["kill"]
            add("kill -9: at rows", killed_at(ka), killed_at(kd))
            add("kill -9: lost / duplicated", f"{ka['lost']} / {ka['duplicated']}",
                f"{kd['lost']} / {kd['duplicated']}")  # fmt: skip
            both = ka["rerun_finished"] and kd["rerun_finished"]
            add("kill -9: rerun s", rerun_time(ka), rerun_time(kd),
                ratio(ka["rerun_s"], kd["rerun_s"]) if both else "")  # fmt: skip
        rows += [(workload if k == 0 else "", *row) for k, row in enumerate(mine)]
    return rows


def title(meta: dict) -> str:
    return (
        f"accord vs distilabel {meta['distilabel']['distilabel']} — "
        f"{meta['prompts']} prompts × n={meta['n']}, {meta['max_tokens']} max tokens, "
        f"batch {meta['batch_size']}, {meta['model']}, {meta['cores']} cores, "
        f"load average {min(meta['load_averages']):.1f}–{max(meta['load_averages']):.1f}"
    )


def print_table(results: dict, meta: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title(meta))
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in COLUMNS[:2] else "right")
    for row in table_rows(results):
        table.add_row(*row)
    Console(width=160).print(table)


def markdown_table(results: dict) -> str:
    """The same rows as Markdown (README's "accord vs distilabel" section)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in table_rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)
