"""A standalone HTML audit report: tables plus matplotlib plots embedded as base64 PNG, so
the one file can be mailed, archived or opened offline.

>>> from accord.store.db import open_store
>>> from accord.audit.report import run_audit
>>> html = render_html(run_audit(open_store("sqlite://")).to_dict())
>>> html.startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment

from .plots import PLOTS

# The page itself is a Jinja template beside this module (markup reads best in its own file).
_TEMPLATE = (Path(__file__).parent / "templates" / "report.html").read_text(encoding="utf-8")


def render_plots(report: dict[str, Any]) -> dict[str, str | None]:
    """Every plot of the report as base64 PNG (None where there is nothing to draw)."""
    out = {}
    for name, make in PLOTS.items():
        png = make(report)
        out[name] = base64.b64encode(png).decode("ascii") if png else None
    return out


def render_html(report: dict[str, Any]) -> str:
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env.from_string(_TEMPLATE).render(
        r=report, plots=render_plots(report), generated=generated
    )


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report to ``path`` (atomically: a half-written report never appears)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return path
