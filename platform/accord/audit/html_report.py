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

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>accord audit · {{ r.scope.description }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
 h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
 table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
 th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: right; }
 th { background: #f3f5f8; } td.l, th.l { text-align: left; }
 .muted { color: #777; } figure { margin: .8rem 0; } img { max-width: 100%; }
</style></head><body>
{% macro ci(e) -%}
{%- if e is none or e.value is none %}<span class="muted">–</span>{% else %}{{ "%.3f"|format(e.value) }}
{%- if e.low is not none %} <span class="muted">[{{ "%.3f"|format(e.low) }}, {{ "%.3f"|format(e.high) }}]</span>{% endif %}{% endif -%}
{%- endmacro %}
{% macro num(x) -%}{% if x is none %}<span class="muted">–</span>{% else %}{{ "%.3f"|format(x) }}{% endif %}{%- endmacro %}
{% macro plot(name, alt) -%}
{% if plots[name] %}<figure><img id="plot-{{ name }}" alt="{{ alt }}" src="data:image/png;base64,{{ plots[name] }}"></figure>
{% else %}<p class="muted">No data for “{{ alt }}”.</p>{% endif %}
{%- endmacro %}
<h1>Agreement audit</h1>
<p class="muted">{{ r.scope.description }} · generated {{ generated }} · {{ r.config.n_resamples }} bootstrap
resamples, {{ (r.config.confidence_level * 100)|round|int }}% intervals, seed {{ r.config.seed }}</p>
<table><tr>{% for k in ["judgments", "human_judgments", "ai_judgments", "pairs", "pairs_with_human_labels", "annotators"] %}<th>{{ k|replace("_", " ") }}</th>{% endfor %}</tr>
<tr>{% for k in ["judgments", "human_judgments", "ai_judgments", "pairs", "pairs_with_human_labels", "annotators"] %}<td>{{ "{:,}".format(r.counts[k]) }}</td>{% endfor %}</tr></table>
<p>Judges: {{ r.counts.judges|join(", ") or "none" }} · constitutions: {{ r.counts.constitutions|join(", ") or "none" }}</p>

<h2>Human–human agreement</h2>
{% set hh = r.human_human %}
<table><tr><th class="l">metric</th><th>value [interval]</th><th>units</th></tr>
<tr><td class="l">Krippendorff's α (nominal)</td><td>{{ ci(hh.alpha) }}</td><td>{{ hh.alpha.n_units }}</td></tr>
<tr><td class="l">pairwise agreement</td><td>{{ ci(hh.agreement) }}</td><td>{{ hh.agreement.n_units }}</td></tr>
<tr><td class="l">Fleiss' κ{% if hh.fleiss_kappa %} ({{ hh.fleiss_kappa.raters_per_unit }} raters/unit){% endif %}</td><td>{{ ci(hh.fleiss_kappa) }}</td><td>{{ hh.fleiss_kappa.n_units if hh.fleiss_kappa else "–" }}</td></tr>
</table>
<p class="muted">{{ hh.n_ratings }} ratings by {{ hh.n_raters }} annotators on {{ hh.n_units }} items, {{ hh.n_units_multi }} rated more than once.</p>

<h2>Human–AI agreement</h2>
{{ plot("agreement_by_judge", "agreement by judge") }}
{{ plot("agreement_by_principle", "agreement by principle") }}
{% for title, key, rows in [("judge model", "judge", r.human_ai.by_judge), ("principle", "principle", r.human_ai.by_principle), ("constitution version", "constitution", r.human_ai.by_constitution)] %}
<table><tr><th class="l">{{ title }}</th><th>n</th><th>agreement</th><th>Cohen's κ</th></tr>
{% for row in rows %}<tr><td class="l">{{ row[key] }}</td><td>{{ row.n }}</td><td>{{ ci(row.agreement) }}</td><td>{{ ci(row.kappa) }}</td></tr>{% endfor %}
</table>{% endfor %}
<table><tr><th class="l">judge</th><th class="l">principle</th><th class="l">constitution</th><th>n</th><th>agreement</th><th>Cohen's κ</th></tr>
{% for row in r.human_ai.by_source %}<tr><td class="l">{{ row.judge }}</td><td class="l">{{ row.principle }}</td><td class="l">{{ row.constitution }}</td><td>{{ row.n }}</td><td>{{ ci(row.agreement) }}</td><td>{{ ci(row.kappa) }}</td></tr>{% endfor %}
</table>
{{ plot("confusion", "confusion matrix human vs AI") }}

<h2>Calibration of soft AI labels</h2>
{{ plot("reliability_diagram", "reliability diagram") }}
<table><tr><th class="l">judge</th><th>n</th><th>Brier</th><th>ECE</th></tr>
{% for row in r.calibration %}<tr><td class="l">{{ row.judge }}</td><td>{{ row.n }}</td><td>{{ num(row.brier) }}</td><td>{{ num(row.ece) }}</td></tr>{% endfor %}
</table>

<h2>AI position consistency</h2>
{{ plot("position_consistency", "position consistency by judge") }}
<table><tr><th class="l">judge</th><th class="l">principle</th><th class="l">constitution</th><th>pairs</th><th>consistency</th><th>first shown wins</th></tr>
{% for row in r.position_consistency.by_source %}<tr><td class="l">{{ row.judge }}</td><td class="l">{{ row.principle }}</td><td class="l">{{ row.constitution }}</td><td>{{ row.n_pairs }}</td><td>{{ ci(row.consistency) }}</td><td>{{ num(row.first_position_wins) }}</td></tr>{% endfor %}
</table>

<h2>Principle-to-principle agreement</h2>
{% for m in r.principle_agreement %}
<p>{{ m.judge }} · {{ m.constitution }}</p>
<table><tr><th></th>{% for p in m.principles %}<th>{{ p }}</th>{% endfor %}</tr>
{% for p in m.principles %}{% set i = loop.index0 %}<tr><th class="l">{{ p }}</th>{% for x in m.agreement[i] %}<td>{{ num(x) }}</td>{% endfor %}</tr>{% endfor %}
</table>{% else %}<p class="muted">No judge labeled several principles.</p>{% endfor %}

<h2>Annotators</h2>
{{ plot("agreement_by_annotator", "agreement by annotator") }}
<table><tr><th class="l">annotator</th><th>gold</th><th>labels</th><th>shared</th><th>agreement</th><th>κ</th><th>gold items</th><th>gold agreement</th><th>ties</th><th>longer wins</th></tr>
{% for a in r.annotators|sort(attribute="username") %}<tr><td class="l">{{ a.username }}</td><td>{{ "yes" if a.is_gold else "" }}</td><td>{{ a.n_labels }}</td><td>{{ a.n_overlap }}</td><td>{{ num(a.agreement) }}</td><td>{{ num(a.kappa) }}</td><td>{{ a.n_gold_items }}</td><td>{{ num(a.gold_agreement) }}</td><td>{{ num(a.tie_rate) }}</td><td>{{ num(a.longer_wins) }}</td></tr>{% endfor %}
</table>

<h2>Gold pairs</h2>
{% if r.gold_accuracy %}<table><tr><th class="l">annotator</th><th>gold labels</th><th>correct</th><th>accuracy</th><th>interval (Wilson)</th></tr>
{% for g in r.gold_accuracy %}<tr><td class="l">{{ g.annotator }}</td><td>{{ g.n_gold }}</td><td>{{ g.correct }}</td><td>{{ num(g.accuracy) }}</td><td>[{{ num(g.ci_low) }}, {{ num(g.ci_high) }}] at {{ (g.confidence_level * 100)|round|int }}%</td></tr>{% endfor %}
</table>{% else %}<p class="muted">No human label on a gold pair (accord gold add, then push with --gold-rate).</p>{% endif %}

<h2>Judge outputs</h2>
{% if r.judge_outputs %}<table><tr><th class="l">judge</th><th>judgments</th><th>unparsable</th><th>unparsable share</th><th>truncated choice</th><th>truncated share</th></tr>
{% for row in r.judge_outputs %}<tr><td class="l">{{ row.judge }}</td><td>{{ row.judgments }}</td><td>{{ row.unparsable }}</td><td>{{ num(row.unparsable_share) }}</td><td>{{ row.truncated }}</td><td>{{ num(row.truncated_share) }}</td></tr>{% endfor %}
</table>
<p class="muted">Unparsable: answers from which neither choice could be read (recorded as errors, never as 0.5). Truncated choice: a choice missing from the server's top-k log-probs, bounded by the lowest listed one.</p>
{% else %}<p class="muted">No AI judge outputs in scope.</p>{% endif %}

<h2>Length bias</h2>
<table><tr><th class="l">label source</th><th>labels</th><th>ties</th><th>longer response wins</th></tr>
{% for row in r.length_bias %}<tr><td class="l">{{ row.source }}</td><td>{{ row.n_labels }}</td><td>{{ num(row.tie_rate) }}</td><td>{{ ci(row.longer_wins) }}</td></tr>{% endfor %}
</table>

<h2>Reward models</h2>
{% if r.reward_models %}<table><tr><th class="l">run</th><th class="l">snapshot</th><th>held-out accuracy</th></tr>
{% for run in r.reward_models %}<tr><td class="l">{{ run.name or run.run_id }}</td><td class="l">{{ run.snapshot or run.snapshot_hash[:12] }}</td><td>{{ num(run.rm_heldout_accuracy) }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">No reward-model run with a held-out accuracy.</p>{% endif %}
</body></html>
"""


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
    return env.from_string(_TEMPLATE).render(r=report, plots=render_plots(report), generated=generated)


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report to ``path`` (atomically: a half-written report never appears)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return path
