"""The ``audit`` recipe step (imported by ``accord.jobs.registry``).

Runs the agreement audit (the whole store, or one snapshot), writes the JSON report and the
standalone HTML report into the recipe's report folder (``<home>/reports/<recipe>/<step>.json``
and ``.html``) and hands its headline figures to later steps (the summary prints them). The
HTML — the slow part, matplotlib — is rendered again only when the figures changed.

    steps:
      - {kind: audit}                       # whole store
      - {kind: audit, snapshot: snapshot}   # the pairs of an earlier snapshot step
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from ..jobs.context import StepContext
from ..jobs.registry import StepConfig, register_step
from ..workflows.outputs import FiguresOutput, report_dir, step_output


class AuditStepConfig(StepConfig):
    """Agreement audit of the store or a snapshot, written as JSON and HTML reports."""

    snapshot: str | None = Field(
        default=None,
        description="Audit this snapshot (a snapshot step "
        "or a snapshot name) instead of the whole store.",
    )
    resamples: int = Field(default=1000, ge=0, description="Bootstrap resamples (0: no intervals).")
    confidence: float = Field(
        default=0.95, gt=0, lt=1, description="Confidence level of intervals."
    )
    seed: int | None = Field(default=None, description="Bootstrap seed (default: the recipe's).")
    bins: int = Field(default=10, ge=1, description="Bins of the reliability curve.")
    html: bool = Field(default=True, description="Also write the standalone HTML report.")


ENSEMBLE = "*ensemble*"  # the judge step's principle name for its ensembled label (rlaif.judge)


def _per_pair(by_source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each judge's final label per pair: its ensemble row, or its only row (one principle)."""
    judges = [r["judge"] for r in by_source]
    return [
        r
        for r in by_source
        if r.get("principle") == ENSEMBLE
        or (judges.count(r["judge"]) == 1 and not r.get("principle", "").startswith("*"))
    ]


def _value(estimate: dict | None) -> dict[str, Any] | None:
    if not estimate:
        return None
    return {k: estimate.get(k) for k in ("value", "low", "high", "n_units")}


def headline_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader looks at first: counts, human–human agreement, human–AI agreement
    by judge (every label: per principle and ensembled) and per pair (the ensembled label), AI
    position consistency by judge, length bias by source, calibration by judge."""
    hh = report["human_human"]
    return {
        "counts": report["counts"],
        "human_human": {
            "alpha": _value(hh.get("alpha")),
            "agreement": _value(hh.get("agreement")),
            "units_with_several_ratings": hh.get("n_units_multi", 0),
        },
        "human_ai": [
            {
                "judge": r["judge"],
                "n": r["n"],
                "agreement": _value(r["agreement"]),
                "kappa": _value(r["kappa"]),
            }
            for r in report["human_ai"].get("by_judge", [])
        ],
        # The judge's final label per pair (its ensemble over principles and orders): n is pairs.
        "human_ai_per_pair": [
            {
                "judge": r["judge"],
                "n": r["n"],
                "agreement": _value(r["agreement"]),
                "kappa": _value(r["kappa"]),
            }
            for r in _per_pair(report["human_ai"].get("by_source", []))
        ],
        "position_consistency": [
            {
                "judge": r["judge"],
                "n_pairs": r["n_pairs"],
                "consistency": _value(r["consistency"]),
                "first_position_wins": r.get("first_position_wins"),
            }
            for r in report["position_consistency"].get("by_judge", [])
        ],
        "length_bias": [
            {"source": r["source"], "kind": r["kind"], "longer_wins": _value(r["longer_wins"])}
            for r in report.get("length_bias", [])
        ],
        "calibration": [
            {"judge": r["judge"], "n": r["n"], "ece": r["ece"], "brier": r["brier"]}
            for r in report.get("calibration", [])
        ],
        "reward_models": [
            {
                "run_id": r.get("run_id"),
                "name": r.get("name"),
                "rm_heldout_accuracy": r.get("rm_heldout_accuracy"),
            }
            for r in report.get("reward_models", [])
        ],
    }


def run_audit_step(ctx: StepContext, config: AuditStepConfig) -> FiguresOutput:
    from .bootstrap import BootstrapConfig
    from .html_report import write_html
    from .loader import AuditScope
    from .report import AuditConfig, run_audit

    snapshot = config.snapshot
    if snapshot is not None and (out := step_output(ctx, snapshot, "snapshot")) is not None:
        snapshot = out.figures["name"]
    seed = ctx.seed if config.seed is None else config.seed
    audit_config = AuditConfig(
        bootstrap=BootstrapConfig(
            n_resamples=config.resamples, confidence_level=config.confidence, seed=seed
        ),
        n_bins=config.bins,
    )
    task = ctx.progress.add_step(f"{ctx.step_name}: audit", total=2 if config.html else 1)
    report = run_audit(ctx.engine, AuditScope(snapshot=snapshot), config=audit_config).to_dict()
    text = json.dumps(report, indent=2, default=str, ensure_ascii=False, sort_keys=True)
    folder = report_dir(ctx)
    json_path, html_path = folder / f"{ctx.step_name}.json", folder / f"{ctx.step_name}.html"
    unchanged = json_path.is_file() and json_path.read_text(encoding="utf-8") == text
    if not unchanged:
        tmp = json_path.with_name(json_path.name + ".partial")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(json_path)
    ctx.progress.advance(task)
    if config.html:
        if not (unchanged and html_path.is_file()):
            write_html(json.loads(text), html_path)
        ctx.progress.advance(task)
    figures = {
        **headline_figures(report),
        "json_path": str(json_path.resolve()),
        "html_path": str(html_path.resolve()) if config.html else None,
        "scope": report["scope"],
        "unchanged": unchanged,
    }
    counts = report["counts"]
    return FiguresOutput(
        kind="audit",
        figures=figures,
        counts={"judgments": counts["judgments"], "human_judgments": counts["human_judgments"]},
        brief={"report": str(html_path if config.html else json_path)},
    )


register_step("audit", AuditStepConfig, run_audit_step)
