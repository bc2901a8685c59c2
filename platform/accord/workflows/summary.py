"""The ``summary`` step: what a recipe produced, in one screen.

Counts in the store, the audit's agreement figures, each snapshot with its full content hash,
each training run with its id and key metrics (reused or trained now), where the HTML reports
are — and, while the store holds no human label, the commands to collect some in Argilla. The
same content is written to ``<home>/reports/<recipe>/summary.json`` and ``summary.txt``.

Each run's HTML report (``accord runs show RUN --html``) is written beside the audit report,
again only when the run's metrics changed since the last one was written.

The agreement figures are also said in plain words, with what they mean for trusting the
judge's labels (and, for a weak judge, how to point the recipe at a stronger one):

>>> audit = {"human_ai_per_pair": [{"judge": "m", "n": 48, "kappa": {"value": 0.16},
...          "agreement": {"value": 0.58, "low": 0.44, "high": 0.71}}],
...          "position_consistency": [{"judge": "m", "n_pairs": 48, "first_position_wins": 0.8,
...          "consistency": {"value": 0.5, "low": 0.35, "high": 0.65}}], "calibration": []}
>>> for line in plain_words(audit):
...     print(line)
The judge m agrees with humans on 58% of 48 pairs [95% CI 44–71%]: not clearly better than a
coin flip (κ 0.16, slight agreement beyond chance).
Half of its labels flip when A/B are swapped (the same winner in both orders for 50% of 48
pair–principle labels [35–65%]; the response shown first wins 80% of the time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import func, select

from ..hashing import content_hash
from ..jobs.context import StepContext
from ..jobs.registry import StepConfig
from ..store.models import Judgment, Pair, Prompt, Response
from .outputs import FiguresOutput, console_for, outputs_of, recipe_name, report_dir

KEY_METRICS = (
    "train_loss",
    "rm_heldout_accuracy",
    "heldout_reward_accuracy",
    "kl_to_ref",
    "win_rate_vs_ref",
    "final_reward",
    "final_kl",
    "final_kl_coef",
    "n_examples",
)
# Instruments of online RL runs, from their last logged step.
LAST_STEP = (
    "reward/mean",
    "kl/measured",
    "kl/coef",
    "response/length",
    "policy/entropy",
    "policy/clipfrac",
)


class SummaryConfig(StepConfig):
    """Print and save a summary of the whole recipe."""

    run_reports: bool = Field(default=True, description="Write each run's HTML report too.")
    argilla_dataset: str | None = Field(
        default=None,
        description="Dataset name used in the labelling instructions (default: the recipe's name).",
    )


def store_counts(engine) -> dict[str, Any]:
    with engine.connect() as conn:

        def count(table, *where):
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )

        roles = dict(
            conn.execute(select(Response.role, func.count()).group_by(Response.role)).all()
        )
        return {
            "prompts": count(Prompt),
            "responses": count(Response),
            "responses_by_role": roles,
            "pairs": count(Pair),
            "human_judgments": count(Judgment, Judgment.kind == "human"),
            "ai_judgments": count(Judgment, Judgment.kind == "ai"),
        }


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("—" if value is None else str(value))


def _ci(estimate: dict | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "—"
    low, high = estimate.get("low"), estimate.get("high")
    return f"{estimate['value']:.3f}" + (
        f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    )


def _write_run_reports(
    ctx: StepContext, runs: list[dict[str, Any]], folder: Path
) -> dict[int, str]:
    """run id → HTML report path (rewritten only when the run's metrics changed)."""
    from ..train.report import write_html

    index_path = folder / "run-reports.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    paths = {}
    for run in runs:
        path = folder / f"run-{run['run_id']}.html"
        digest = content_hash(run["metrics"], run["warnings"])
        if index.get(str(run["run_id"])) != digest or not path.is_file():
            write_html(ctx.engine, run=run["run_id"], path=path)
            index[str(run["run_id"])] = digest
        paths[run["run_id"]] = str(path.resolve())
    index_path.write_text(json.dumps(index, indent=2))
    return paths


def last_step_instruments(ctx: StepContext, runs: list[dict[str, Any]]) -> None:
    """Add the last logged PPO/RLOO/GRPO instruments to each such run's record."""
    from ..store.db import session_scope
    from ..train.runs import list_metrics

    with session_scope(ctx.engine) as session:
        for run in runs:
            if run["kind"] in ("ppo", "rloo", "grpo"):
                steps = list_metrics(session, run_id=run["run_id"])
                last = steps[-1].values if steps else {}
                run["last_step"] = {k: last[k] for k in LAST_STEP if k in last}


def labelling_commands(ctx: StepContext, dataset: str) -> list[str]:
    from ..jobs.recipe import bundled_pipelines_dir

    url = ctx.engine.url.render_as_string(hide_password=True)
    recipe = recipe_name(ctx)
    if not (bundled_pipelines_dir() / f"{recipe}.yaml").is_file():
        recipe = "<your recipe file>"
    return [
        "accord argilla local start        # or use your team's Argilla server",
        "export ARGILLA_API_URL=http://127.0.0.1:6900 ARGILLA_API_KEY=argilla.apikey",
        "accord argilla users create alice --password 'choose-a-password' --workspace labels",
        f"accord argilla push --dataset {dataset} --workspace labels --min-submitted 2 --db {url}",
        "# annotators sign in at http://127.0.0.1:6900 and label the dataset",
        f"accord argilla pull --dataset {dataset} --workspace labels --db {url}",
        f"accord run {recipe} --db {url}   # rerun: snapshots resolve the human labels by their "
        "policy",
    ]


def build_summary(ctx: StepContext, config: SummaryConfig) -> dict[str, Any]:
    audits = [{"step": n, **o.figures} for n, o in outputs_of(ctx, "audit")]
    snapshots = [{"step": n, **o.figures} for n, o in outputs_of(ctx, "snapshot")]
    runs = [run for _, o in outputs_of(ctx, "train") for run in o.figures["runs"]]
    sweeps = [
        {"step": n, "sweep": o.figures["sweep"]}
        for n, o in outputs_of(ctx, "train")
        if "sweep" in o.figures
    ]
    sft_data = [
        {
            "step": n,
            "data": o.figures["sft_data"],
            "snapshot": o.figures.get("snapshot"),
            "demonstrations": o.figures.get("demonstrations"),
        }
        for n, o in outputs_of(ctx, "train")
        if "sft_data" in o.figures
    ]
    exports = [{"step": n, **o.figures} for n, o in outputs_of(ctx, "export")]
    argilla = [{"step": n, **o.figures} for n, o in outputs_of(ctx, "argilla")]
    last_step_instruments(ctx, runs)
    folder = report_dir(ctx)
    run_reports = _write_run_reports(ctx, runs, folder) if config.run_reports and runs else {}
    counts = store_counts(ctx.engine)
    summary = {
        "recipe": recipe_name(ctx),
        "job_id": ctx.job_id,
        "store": ctx.engine.url.render_as_string(hide_password=True),
        "counts": counts,
        "steps": {name: out.summary() for name, out in ctx.outputs.items()},
        "audits": audits,
        "snapshots": snapshots,
        "exports": exports,
        "argilla": argilla,
        "runs": [{**r, "report": run_reports.get(r["run_id"])} for r in runs],
        "sweeps": sweeps,
        "sft_data": sft_data,
        "reports": {
            "folder": str(folder.resolve()),
            "audit": [a["html_path"] or a["json_path"] for a in audits],
            "runs": list(run_reports.values()),
        },
    }
    summary["in_plain_words"] = [line for audit in audits for line in plain_words(audit)]
    if any(weak_judge(audit) for audit in audits):
        summary["stronger_judge"] = STRONGER_JUDGE
    if counts["human_judgments"] == 0:
        summary["how_to_label"] = labelling_commands(
            ctx, config.argilla_dataset or recipe_name(ctx)
        )
    return summary


KAPPA_WORDS = (
    (0.0, "no agreement beyond chance"),
    (0.2, "slight agreement beyond chance"),
    (0.4, "fair agreement beyond chance"),
    (0.6, "moderate agreement beyond chance"),
    (0.8, "substantial agreement beyond chance"),
    (1.01, "almost perfect agreement"),
)
FRACTION_WORDS = (
    (0.05, "Almost none"),
    (0.15, "About one in ten"),
    (0.3, "About a fifth"),
    (0.4, "About a third"),
    (0.6, "Half"),
    (0.75, "About two thirds"),
    (0.9, "Most"),
    (1.01, "Almost all"),
)
# A judge this far from humans, or this unstable under A/B swaps, is called weak.
WEAK_AGREEMENT, WEAK_CONSISTENCY = 0.7, 0.8
STRONGER_JUDGE = [
    "models:",
    "  judge:                      # any OpenAI-compatible server (vLLM, llama.cpp, a hosted API)",
    "    backend: openai",
    "    model: Qwen/Qwen2.5-7B-Instruct",
    "    options: {base_url: http://127.0.0.1:8000/v1, max_concurrency: 16}",
    "# or in-process on a GPU: backend: vllm (see pipelines/rlaif-vllm.yaml)",
]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _words(value: float, table) -> str:
    return next(words for bound, words in table if value < bound)


def plain_words(audit: dict[str, Any]) -> list[str]:
    """The audit's human–AI agreement (of the judge's final label per pair), position
    consistency and calibration, in sentences."""
    lines = []
    for row in audit.get("human_ai_per_pair", []):
        agreement, kappa = row.get("agreement") or {}, (row.get("kappa") or {}).get("value")
        if agreement.get("value") is None:
            continue
        low, high = agreement.get("low"), agreement.get("high")
        ci = (
            f" [95% CI {100 * low:.0f}–{100 * high:.0f}%]"
            if low is not None and high is not None
            else ""
        )
        if low is not None and low > 0.5:
            verdict = "better than a coin flip"
        elif high is not None and high < 0.5:
            verdict = "worse than a coin flip: it tends to prefer the reply humans rejected"
        else:
            verdict = "not clearly better than a coin flip"
        kappa_words = "" if kappa is None else f" (κ {kappa:.2f}, {_words(kappa, KAPPA_WORDS)})"
        lines.append(
            f"The judge {row['judge']} agrees with humans on {_pct(agreement['value'])} of "
            f"{row['n']} pairs{ci}: {verdict}{kappa_words}."
        )
    for row in audit.get("position_consistency", []):
        consistency = row.get("consistency") or {}
        if consistency.get("value") is None:
            continue
        c = consistency["value"]
        low, high = consistency.get("low"), consistency.get("high")
        ci = f" [{100 * low:.0f}–{100 * high:.0f}%]" if low is not None and high is not None else ""
        first = row.get("first_position_wins")
        first_words = (
            "" if first is None else f"; the response shown first wins {_pct(first)} of the time"
        )
        lines.append(
            f"{_words(1 - c, FRACTION_WORDS)} of its labels flip when A/B are swapped (the "
            f"same winner in both orders for {_pct(c)} of {row['n_pairs']} pair–principle "
            f"labels{ci}"
            f"{first_words})."
        )
    for row in audit.get("calibration", []):
        if row.get("ece") is not None:
            lines.append(
                f"When {row['judge']} states a confidence, it is off by {100 * row['ece']:.0f} "
                f"points on average against the human majority (ECE over {row['n']} labels)."
            )
    return lines


def weak_judge(audit: dict[str, Any]) -> bool:
    """True when a judge is far from humans or unstable under A/B swaps."""
    far = any(
        (r.get("agreement") or {}).get("value") is not None
        and r["agreement"]["value"] < WEAK_AGREEMENT
        for r in audit.get("human_ai_per_pair", [])
    )
    unstable = any(
        (r.get("consistency") or {}).get("value") is not None
        and r["consistency"]["value"] < WEAK_CONSISTENCY
        for r in audit.get("position_consistency", [])
    )
    return far or unstable


def _agreement_table(audit: dict[str, Any]) -> Table:
    table = Table(title=f"Agreement ({audit['scope']['description']})", title_justify="left")
    for column in ("figure", "source", "value [95% CI]", "n"):
        table.add_column(column)
    hh = audit["human_human"]
    if hh["alpha"] and hh["alpha"].get("value") is not None:
        table.add_row(
            "human–human α", "annotators", _ci(hh["alpha"]), _num(hh["alpha"].get("n_units"))
        )
    for row in audit.get("human_ai_per_pair", []):
        table.add_row(
            "human–AI agreement, per pair", row["judge"], _ci(row["agreement"]), str(row["n"])
        )
        table.add_row("human–AI κ, per pair", row["judge"], _ci(row["kappa"]), str(row["n"]))
    for row in audit["human_ai"]:
        table.add_row(
            "human–AI agreement, every label", row["judge"], _ci(row["agreement"]), str(row["n"])
        )
    for row in audit["position_consistency"]:
        table.add_row(
            "same winner, A/B swapped", row["judge"], _ci(row["consistency"]), str(row["n_pairs"])
        )
    for row in audit.get("reward_models", []):
        table.add_row(
            "reward model held-out accuracy",
            f"run {row['run_id']}",
            _num(row["rm_heldout_accuracy"]),
            "",
        )
    for row in audit.get("calibration", []):
        table.add_row("calibration error (ECE)", row["judge"], _num(row["ece"]), str(row["n"]))
    for row in audit["length_bias"]:  # per label source; the per-principle rows are in the HTML
        if (
            "·" not in row["source"]
            and row["longer_wins"]
            and row["longer_wins"].get("value") is not None
        ):
            table.add_row(
                "longer response wins",
                row["source"],
                _ci(row["longer_wins"]),
                _num(row["longer_wins"].get("n_units")),
            )
    return table


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table(title="Training runs", title_justify="left")
    for column in ("step", "kind", "run", "", "key metrics"):
        table.add_column(column, overflow="fold")
    for r in runs:
        m = r["metrics"]
        figures = " · ".join(
            [
                *(
                    f"{k.replace('_', ' ')} {_num(m[k])}"
                    for k in KEY_METRICS
                    if m.get(k) is not None
                ),
                *(f"{k} {_num(v)}" for k, v in r.get("last_step", {}).items()),
            ]
        )
        table.add_row(
            r["step"] + (f" β={r['label']}" if r["label"] else ""),
            r["kind"],
            str(r["run_id"]),
            "reused" if r["reused"] else "trained",
            figures,
        )
    return table


def render(summary: dict[str, Any], console: Console) -> None:
    c = summary["counts"]
    roles = ", ".join(f"{n} {role}" for role, n in sorted(c["responses_by_role"].items()))
    parts: list[Any] = [
        (
            f"store [bold]{summary['store']}[/] · job {summary['job_id']}\n"
            f"{c['prompts']} prompts · {c['responses']} responses ({roles or 'none'}) · "
            f"{c['pairs']} pairs · {c['ai_judgments']} AI judgments · "
            f"{c['human_judgments']} human judgments"
        )
    ]
    for audit in summary["audits"]:
        parts.append(_agreement_table(audit))
    if summary.get("in_plain_words"):
        parts.append(
            "In plain words:\n" + "\n".join(f"  {line}" for line in summary["in_plain_words"])
        )
    if summary.get("stronger_judge"):
        parts.append(
            "[bold]This is a weak judge[/] (a small model's labels are close to chance and "
            "depend on which reply is shown first): trust its labels only as far as the figures "
            "above go. For a real judge, change the recipe's judge model, e.g.\n"
            + "\n".join(f"  {line}" for line in summary["stronger_judge"])
        )
    if summary["audits"] and not c["human_judgments"]:
        parts.append(
            "[dim]No human labels yet: agreement with humans is measured once some are "
            "collected.[/]"
        )
    for s in summary["snapshots"]:
        mix = ", ".join(f"{n} {k}" for k, n in s["source_mix"].items()) or "no labels"
        parts.append(
            f"snapshot [bold]{s['name']}[/] ({s['policy']}, {'new' if s['new'] else 'unchanged'}): "
            f"{s['n_train']} train / {s['n_test']} test examples ({mix})\n"
            f"  content hash {s['content_hash']}"
        )
    for e in summary["exports"]:
        parts.append(f"export ({e['format']}): {e['path']}")
    for d in summary.get("sft_data", []):
        count = f"{d['demonstrations']} " if d["demonstrations"] else "the "
        parts.append(f"{d['step']}: SFT on {count}{d['data']} (snapshot {d['snapshot']})")
    if summary["runs"]:
        parts.append(_runs_table(summary["runs"]))
        parts.append(
            "models:\n"
            + "\n".join(f"  run {r['run_id']}: {r['artifact_path']}" for r in summary["runs"])
        )
    reports = summary["reports"]
    parts.append(
        "HTML reports:\n"
        + "\n".join(f"  {p}" for p in [*reports["audit"], *reports["runs"]])
        + f"\n  (summary.json and summary.txt in {reports['folder']})"
    )
    console.print(Panel(Group(*parts), title=f"accord · {summary['recipe']}", title_align="left"))
    if "how_to_label" in summary:
        console.print(
            "[bold]No human labels in the store[/] (AI labels are never stored as human ones). "
            "To collect human labels in Argilla:"
        )
        for line in summary["how_to_label"]:
            console.print(f"  {line}", soft_wrap=True, highlight=False)


def run_summary_step(ctx: StepContext, config: SummaryConfig) -> FiguresOutput:
    task = ctx.progress.add_step(f"{ctx.step_name}: summary", total=1)
    summary = build_summary(ctx, config)
    folder = Path(summary["reports"]["folder"])
    (folder / "summary.json").write_text(
        json.dumps(summary, indent=2, default=str, ensure_ascii=False)
    )
    render(summary, console_for(ctx))
    with open(folder / "summary.txt", "w", encoding="utf-8") as f:
        render(summary, Console(file=f, width=120, no_color=True))
    ctx.progress.advance(task)
    return FiguresOutput(
        kind="summary", figures=summary, brief={"summary": str(folder / "summary.txt")}
    )
