"""Matplotlib figures of an audit report, as PNG bytes (no pyplot, no display needed).

Each function takes the report dict (``AuditReport.to_dict()``) and returns PNG bytes, or
None when the report has nothing to draw for it.

>>> from accord.audit.plots import agreement_by_judge_png
>>> agreement_by_judge_png({"human_ai": {"by_judge": []}, "human_human": {}}) is None
True
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

_BLUE, _ORANGE, _GREY = "#3b6ea8", "#d9822b", "#888888"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _bars(
    rows: list[dict],
    label_key: str,
    metric: str,
    title: str,
    ylabel: str,
    reference: float | None = None,
    reference_label: str = "",
    colors: list[str] | None = None,
) -> bytes | None:
    rows = [r for r in rows if r.get(metric) and r[metric].get("value") is not None]
    if not rows:
        return None
    labels = [str(r[label_key]) for r in rows]
    values = [r[metric]["value"] for r in rows]
    low = [
        v - (r[metric]["low"] if r[metric]["low"] is not None else v) for v, r in zip(values, rows)
    ]
    high = [
        (r[metric]["high"] if r[metric]["high"] is not None else v) - v
        for v, r in zip(values, rows)
    ]
    fig = Figure(figsize=(max(4.0, 0.7 * len(rows) + 2.0), 3.4))
    ax = fig.add_subplot()
    ax.bar(range(len(rows)), values, yerr=[low, high], capsize=4, color=colors or _BLUE)
    if reference is not None:
        ax.axhline(reference, color=_ORANGE, linestyle="--", label=reference_label)
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xticks(
        range(len(rows)),
        labels,
        rotation=30 if len(rows) > 3 else 0,
        ha="right" if len(rows) > 3 else "center",
        fontsize=8,
    )
    ax.set_ylim(min(0.0, min(values) - 0.05), 1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _human_reference(report: dict[str, Any]) -> float | None:
    return (report.get("human_human", {}).get("agreement") or {}).get("value")


def agreement_by_principle_png(report: dict[str, Any]) -> bytes | None:
    return _bars(
        report["human_ai"]["by_principle"],
        "principle",
        "agreement",
        "AI agreement with the human majority, by principle",
        "agreement",
        _human_reference(report),
        "human–human agreement",
    )


def agreement_by_judge_png(report: dict[str, Any]) -> bytes | None:
    return _bars(
        report["human_ai"]["by_judge"],
        "judge",
        "agreement",
        "AI agreement with the human majority, by judge model",
        "agreement",
        _human_reference(report),
        "human–human agreement",
    )


def agreement_by_annotator_png(report: dict[str, Any]) -> bytes | None:
    rows = [r for r in report.get("annotators", []) if r["agreement"] is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r["agreement"])
    fig = Figure(figsize=(max(4.0, 0.18 * len(rows) + 2.0), 3.4))
    ax = fig.add_subplot()
    ax.bar(
        range(len(rows)),
        [r["agreement"] for r in rows],
        color=[_ORANGE if r["is_gold"] else _BLUE for r in rows],
    )
    ax.set_xticks(range(len(rows)), [r["username"] for r in rows], rotation=90, fontsize=6)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("agreement with the others")
    ax.set_title("Per-annotator agreement (orange: gold annotators)", fontsize=10)
    return _png(fig)


def reliability_diagram_png(report: dict[str, Any]) -> bytes | None:
    rows = [r for r in report.get("calibration", []) if r["n"]]
    if not rows:
        return None
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=_GREY, linestyle=":", label="perfect calibration")
    for r in rows:
        curve = r["curve"]
        ax.plot(
            curve["prob_pred"],
            curve["prob_true"],
            marker="o",
            label=f"{r['judge']} (ECE {r['ece']:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("judge's P(response a preferred)")
    ax.set_ylabel("share the human majority preferred a")
    ax.set_title("Reliability diagram", fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    return _png(fig)


def position_consistency_png(report: dict[str, Any]) -> bytes | None:
    return _bars(
        report["position_consistency"]["by_judge"],
        "judge",
        "consistency",
        "Position consistency (same winner with A and B swapped)",
        "consistent share",
    )


def confusion_png(report: dict[str, Any]) -> bytes | None:
    rows = [r for r in report["human_ai"]["by_judge"] if r["n"]][:4]
    if not rows:
        return None
    fig = Figure(figsize=(3.4 * len(rows), 3.3))
    names = ["a", "b", "tie"]
    for i, r in enumerate(rows):
        ax = fig.add_subplot(1, len(rows), i + 1)
        matrix = r["confusion"]
        ax.imshow(matrix, cmap="Blues")
        peak = max(max(row) for row in matrix) or 1
        for y in range(3):
            for x in range(3):
                ax.text(
                    x,
                    y,
                    str(matrix[y][x]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[y][x] > peak / 2 else "black",
                )
        ax.set_xticks(range(3), names)
        ax.set_yticks(range(3), names)
        ax.set_xlabel(f"{r['judge']} label")
        ax.set_ylabel("human majority")
    fig.suptitle("Human majority vs AI label", fontsize=10)
    return _png(fig)


PLOTS = {
    "agreement_by_principle": agreement_by_principle_png,
    "agreement_by_judge": agreement_by_judge_png,
    "agreement_by_annotator": agreement_by_annotator_png,
    "reliability_diagram": reliability_diagram_png,
    "position_consistency": position_consistency_png,
    "confusion": confusion_png,
}
