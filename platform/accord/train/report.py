"""A training run as a self-contained HTML page: identity, config, final metrics, warnings, and
one matplotlib curve per recorded instrument (PNG embedded, no external files).

>>> from accord.train.report import run_summary       # doctest: +SKIP
>>> run_summary(engine, run="7")["kind"]               # doctest: +SKIP
'ppo'
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from accord.store.db import session_scope

from .runs import get_run, list_metrics

# Curves drawn first, in this order, when present; every other numeric series follows.
PREFERRED = [
    "loss",
    "reward/mean",
    "kl/measured",
    "kl/coef",
    "response/length",
    "policy/entropy",
    "policy/clipfrac",
    "loss/value",
    "eval/win_rate_vs_ref",
    "rewards/accuracies",
    "rewards/margins",
    "reward",
    "entropy",
]


def run_summary(engine, *, run: str | int) -> dict[str, Any]:
    with session_scope(engine) as session:
        row = get_run(session, run=run)
        steps = [{"step": m.step, **m.values} for m in list_metrics(session, run_id=row.id)]
        return {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "status": row.status,
            "snapshot_hash": row.snapshot_hash,
            "snapshot_id": row.snapshot_id,
            "base_model": row.base_model,
            "ref_model": row.ref_model,
            "git_revision": row.git_revision,
            "artifact_path": row.artifact_path,
            "config": row.config,
            "metrics": row.metrics,
            "warnings": row.warnings,
            "error": row.error,
            "created_at": row.created_at,
            "finished_at": row.finished_at,
            "steps": steps,
        }


def series(steps: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    out: dict[str, tuple[list[int], list[float]]] = {}
    for row in steps:
        for key, value in row.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            xs, ys = out.setdefault(key, ([], []))
            xs.append(row["step"])
            ys.append(float(value))
    ordered = [k for k in PREFERRED if k in out] + sorted(k for k in out if k not in PREFERRED)
    return {k: out[k] for k in ordered}


def _png(xs: list[int], ys: list[float], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.6), dpi=100)
    ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, linewidth=1.5)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(summary: dict[str, Any], *, max_curves: int = 24, extra_html: str = "") -> str:
    """The page; ``extra_html`` (already escaped HTML, e.g. a loop's round table) goes after
    the identity table."""
    esc = html.escape
    curves = series(summary["steps"])
    figures = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{_png(xs, ys, name)}"></figure>'
        for name, (xs, ys) in list(curves.items())[:max_curves]
        if len(xs) >= 1
    )
    identity = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(str(summary[k]))}</td></tr>"
        for k in (
            "id",
            "name",
            "kind",
            "status",
            "snapshot_hash",
            "base_model",
            "ref_model",
            "git_revision",
            "artifact_path",
            "created_at",
            "finished_at",
        )
    )
    metrics = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in summary["metrics"].items()
    )
    warnings = "".join(f"<li>{esc(w)}</li>" for w in summary["warnings"]) or "<li>none</li>"
    error = f"<h2>Error</h2><pre>{esc(summary['error'])}</pre>" if summary.get("error") else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>accord run {summary["id"]} ({esc(summary["kind"])})</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}}
table{{border-collapse:collapse}}
th,td{{text-align:left;padding:2px 10px;border-bottom:1px solid #ddd;font-size:14px}}
.curves{{display:flex;flex-wrap:wrap;gap:8px}}figure{{margin:0}}.warn li{{color:#a40}}
pre{{background:#f6f6f6;padding:8px;overflow:auto}}
table.rounds caption{{text-align:left;font-weight:600;padding:6px 0}}
table.rounds td{{text-align:right;white-space:nowrap}}</style></head><body>
<h1>Run {summary["id"]} · {esc(summary["kind"])} · {esc(summary["status"])}</h1>
<table>{identity}</table>{extra_html}
<h2>Warnings</h2><ul class="warn">{warnings}</ul>{error}
<h2>Final metrics</h2><table>{metrics}</table>
<h2>Instruments per step ({len(summary["steps"])} steps)</h2><div class="curves">{figures}</div>
<h2>Config</h2><pre>{esc(json.dumps(summary["config"], indent=2, default=str))}</pre>
</body></html>"""


def write_html(engine, *, run: str | int, path: str | Path, extra_html: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(run_summary(engine, run=run), extra_html=extra_html)
    path.write_text(page, encoding="utf-8")
    return path
