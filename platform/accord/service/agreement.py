"""Agreement figures and audit report listings, read by the REST API (``/audit``) and the
dashboard's agreement page: a live summary computed from the store (``accord.audit``) and the
reports ``accord audit`` wrote to the reports folder.

>>> import tempfile
>>> list_reports(Path(tempfile.mkdtemp()) / "none")
[]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..names import is_safe_name

SERVED_SUFFIXES = {
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".csv": "text/csv",
    ".md": "text/markdown",
}


def _value(estimate: dict[str, Any] | None) -> float | None:
    value = (estimate or {}).get("value")
    return (
        None
        if value is None or (isinstance(value, float) and math.isnan(value))
        else round(float(value), 4)
    )


def agreement_summary(
    engine, *, job_id: int | None = None, snapshot: str | None = None, n_resamples: int = 200
) -> dict[str, Any]:
    """The audit's headline figures (``accord.audit``): counts, agreement between humans and
    each AI judge's agreement with the human majority, with bootstrap intervals."""
    from ..audit.bootstrap import BootstrapConfig
    from ..audit.loader import AuditScope
    from ..audit.report import AuditConfig, run_audit

    report = run_audit(
        engine,
        AuditScope(job_id=job_id, snapshot=snapshot),
        config=AuditConfig(bootstrap=BootstrapConfig(n_resamples=n_resamples)),
    ).to_dict()
    counts, hh = report["counts"], report["human_human"]
    return {
        "scope": report["scope"],
        "judgments": counts["judgments"],
        "pairs": counts["pairs"],
        "human_judgments": counts["human_judgments"],
        "ai_judgments": counts["ai_judgments"],
        "humans": {
            "raters": hh.get("n_raters", 0),
            "alpha": _value(hh.get("alpha")),
            "alpha_ci": hh.get("alpha"),
            "percent_agreement": _value(hh.get("agreement")),
        },
        "ai_judges": [
            {
                "judge": src["judge"],
                "principle": src["principle"],
                "constitution_hash": src["constitution"],
                "with_human_reference": src["n"],
                "agreement_with_humans": _value(src.get("agreement")),
                "kappa_with_humans": _value(src.get("kappa")),
                "agreement_ci": src.get("agreement"),
            }
            for src in report["human_ai"].get("by_source", [])
        ],
        "position_consistency": report["position_consistency"],
    }


def report_entry(folder: Path) -> dict[str, Any]:
    files = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in SERVED_SUFFIXES
    )
    summary_file = next(
        (folder / f for f in ("summary.json", "report.json") if (folder / f).is_file()), None
    )
    summary = None
    if summary_file is not None:
        try:
            summary = json.loads(summary_file.read_text())
        except (OSError, ValueError):
            summary = None
    return {
        "name": folder.name,
        "files": files,
        "plots": [f for f in files if f.endswith((".png", ".svg"))],
        "summary": summary,
        "modified": folder.stat().st_mtime,
    }


def list_reports(root: Path) -> list[dict[str, Any]]:
    """The report folders under ``root``, newest first."""
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and is_safe_name(p.name)]
    return [report_entry(p) for p in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)]
