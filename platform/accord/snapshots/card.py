"""A Hugging Face dataset card (README.md) for an exported snapshot: provenance and cost.

``accord export NAME --format hf|trl -o DIR [--price-table FILE]`` writes ``DIR/README.md``
with YAML metadata (readable by ``huggingface_hub.DatasetCard.load``) and sections on:

- label sources: examples by label source (the manifest's ``source_mix``) and the human and AI
  judgments on the snapshot's pairs;
- judges and backends, constitutions (name, version, hash), the number of annotators;
- agreement: human–human Krippendorff α and human–AI agreement per judge, with bootstrap
  intervals (``accord audit`` on the snapshot's scope);
- calibration (map, ECE and Brier before → after), escalation (target, delta, threshold,
  coverage, agreement bound), Dawid–Skene annotator accuracies and gold-accuracy exclusions
  when the manifest records them (``accord.snapshots.card_trust``);
- the split rule (hash of the normalized prompt, test fraction, seed);
- cost: judge tokens per AI-labelled pair from the request cache (steps ``judge`` and
  ``judge-rationale``: every request of the judge model over the store, divided by the pairs it
  labelled), a dollar figure with a price table, and human labelling time (Argilla 2.8 records
  when an answer was given, not how long it took: "not reported").

A price table is YAML or JSON: model id → US dollars per million ``input`` and ``output``
tokens (optionally under a top-level ``models`` key).

>>> import json, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "prices.json"
>>> _ = path.write_text(json.dumps({"models": {"judge-x": {"input": 0.2, "output": 0.6}}}))
>>> load_price_table(path)
{'judge-x': {'input': 0.2, 'output': 0.6}}
>>> _ = path.write_text(json.dumps({"judge-x": {"input": -1, "output": 0.6}}))
>>> try:
...     load_price_table(path)
... except ValueError as exc:
...     print(str(exc).replace(str(path), "FILE"))
FILE: field 'judge-x.input': must be a number ≥ 0 (dollars per 1M tokens), got -1
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .card_trust import calibration_lines, dawid_skene_lines, escalation_lines, gold_lines

JUDGE_STEPS = ("judge", "judge-rationale")
NOT_REPORTED = "not reported"


def load_price_table(path: str | Path) -> dict[str, dict[str, float]]:
    """model id → {"input", "output"} dollars per 1M tokens; errors name the file and field."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the price table: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    prefix = ""
    if isinstance(data, dict) and set(data) == {"models"}:
        data, prefix = data["models"], "models."
    if not isinstance(data, dict) or not data:
        raise ValueError(
            f"{path}: a price table maps model ids to {{input, output}} dollars per 1M tokens"
        )
    table: dict[str, dict[str, float]] = {}
    for model, prices in data.items():
        if not isinstance(prices, dict):  # bad input, not a bad call: the CLI reports it
            raise ValueError(  # noqa: TRY004
                f"{path}: field '{prefix}{model}': must be a mapping with input and output"
            )
        unknown = sorted(set(prices) - {"input", "output"})
        if unknown:
            raise ValueError(
                f"{path}: field '{prefix}{model}.{unknown[0]}': unknown (expected input, output)"
            )
        table[str(model)] = {}
        for side in ("input", "output"):
            value = prices.get(side)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"{path}: field '{prefix}{model}.{side}': must be a number ≥ 0 "
                    f"(dollars per 1M tokens), got {value!r}"
                )
            table[str(model)][side] = float(value)
    return table


def _pairs_clause(snapshot_id: int) -> str:
    return (
        f"pair_id IN (SELECT pair_id FROM snapshotexample WHERE snapshot_id = {int(snapshot_id)})"
    )


def _label_facts(engine: Engine, snapshot_id: int) -> dict[str, Any]:
    """Judgment counts by kind, AI judges with their pairs, annotators and constitutions, from
    two scans of the snapshot's judgments (one grouped count, one list of constitution hashes)
    rather than one scan per figure: at a million pairs each scan is seconds."""
    where = _pairs_clause(snapshot_id)
    kinds: dict[str, int] = defaultdict(int)
    judges, annotators = [], set()
    with engine.connect() as conn:
        groups = conn.execute(
            text(
                "SELECT kind, status, judge, judge_backend, COUNT(*), COUNT(DISTINCT pair_id)"
                f" FROM judgment WHERE {where} GROUP BY kind, status, judge, judge_backend"
                " ORDER BY judge, judge_backend"
            )
        ).all()
        for kind, status, judge, backend, n, pairs in groups:
            if kind == "human":
                annotators.add(judge)  # every status: who worked on the snapshot's pairs
            if status != "submitted":
                continue
            kinds[kind] += int(n)
            if kind == "ai":
                judges.append(
                    {"judge": judge, "backend": backend or "unknown", "pairs": int(pairs)}
                )
        hashes = [
            h
            for (h,) in conn.execute(
                text(
                    f"SELECT DISTINCT constitution_hash FROM judgment WHERE kind = 'ai' AND {where}"
                    " AND constitution_hash <> ''"
                )
            ).all()
        ]
        constitutions = []
        for h in sorted(hashes):
            row = conn.execute(
                text("SELECT name, version FROM constitution WHERE content_hash = :h"), {"h": h}
            ).first()
            constitutions.append(
                {
                    "name": row[0] if row else "(not stored)",
                    "version": row[1] if row else "",
                    "hash": h,
                }
            )
    return {
        "judgments": dict(kinds),
        "judges": judges,
        "annotators": len(annotators),
        "constitutions": constitutions,
    }


def _judge_tokens(engine: Engine) -> dict[str, dict[str, int]]:
    """model id → prompt/completion tokens and requests, over the judge steps' cache."""
    out: dict[str, dict[str, int]] = defaultdict(
        lambda: {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}
    )
    steps = ", ".join(f"'{s}'" for s in JUDGE_STEPS)
    with engine.connect() as conn:
        for model, output in conn.execute(
            text(f"SELECT model_id, output FROM cacheentry WHERE step IN ({steps})")
        ):
            if isinstance(output, str):
                output = json.loads(output)
            usage = ((output or {}).get("result") or {}).get("usage") or {}
            row = out[model]
            row["requests"] += 1
            row["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            row["completion_tokens"] += int(usage.get("completion_tokens") or 0)
    return dict(out)


def _judge_pairs_in_store(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            j: int(n)
            for j, n in conn.execute(
                text(
                    "SELECT judge, COUNT(DISTINCT pair_id) FROM judgment WHERE kind = 'ai'"
                    " AND status = 'submitted' GROUP BY judge"
                )
            ).all()
        }


def cost_figures(
    engine: Engine, facts: dict[str, Any], prices: dict[str, dict[str, float]] | None
) -> dict[str, Any]:
    """Tokens per AI-labelled pair per judge, the snapshot's share in tokens (and dollars)."""
    tokens, judged = _judge_tokens(engine), _judge_pairs_in_store(engine)
    rows, total_dollars, priced_all = [], 0.0, bool(prices)
    for judge in sorted({j["judge"] for j in facts["judges"]}):
        pairs_here = sum(j["pairs"] for j in facts["judges"] if j["judge"] == judge)
        used = tokens.get(judge)
        row: dict[str, Any] = {"judge": judge, "pairs_in_snapshot": pairs_here}
        if not used or not judged.get(judge):
            row.update(
                tokens_per_label=None,
                note="no stored usage (imported labels or an emptied request cache)",
            )
            priced_all = False
            rows.append(row)
            continue
        per_in = used["prompt_tokens"] / judged[judge]
        per_out = used["completion_tokens"] / judged[judge]
        row.update(
            tokens_per_label={"input": round(per_in, 1), "output": round(per_out, 1)},
            snapshot_tokens={
                "input": round(per_in * pairs_here),
                "output": round(per_out * pairs_here),
            },
        )
        price = (prices or {}).get(judge)
        if price is not None:
            dollars = (per_in * price["input"] + per_out * price["output"]) * pairs_here / 1e6
            row["dollars"] = round(dollars, 6)
            total_dollars += dollars
        else:
            priced_all = False
        rows.append(row)
    return {
        "judges": rows,
        "dollars": round(total_dollars, 6) if priced_all and rows else None,
        "human_time": NOT_REPORTED,
    }


def _agreement(engine: Engine, snapshot: str) -> dict[str, Any]:
    from ..audit.bootstrap import BootstrapConfig
    from ..audit.loader import AuditScope
    from ..audit.report import AuditConfig, run_audit

    report = run_audit(
        engine,
        AuditScope(snapshot=snapshot),
        config=AuditConfig(bootstrap=BootstrapConfig(n_resamples=200, seed=0)),
    )
    return {"human_human": report.human_human, "human_ai": report.human_ai["by_judge"]}


def _ci(estimate: dict | None) -> str:
    if not estimate or estimate.get("value") is None:
        return "n/a"
    if estimate.get("low") is None:
        return f"{estimate['value']:.3f}"
    level = round(100 * estimate.get("confidence_level", 0.95))
    return f"{estimate['value']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}] ({level}% CI)"


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def _metadata(snap, fmt: str) -> dict[str, Any]:
    n = snap.n_train + snap.n_test
    meta: dict[str, Any] = {
        "pretty_name": f"accord snapshot {snap.name}",
        "tags": ["preference", "rlhf", "dpo", "accord"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(n)],
        "accord": {
            "snapshot": snap.name,
            "content_hash": snap.content_hash,
            "policy": snap.policy,
            "format": fmt,
        },
    }
    if fmt == "trl":
        meta["configs"] = [
            {
                "config_name": "default",
                "data_files": [
                    {"split": "train", "path": "train.jsonl"},
                    {"split": "test", "path": "test.jsonl"},
                ],
            }
        ]
    return meta


def dataset_card(
    engine: Engine, snap, *, fmt: str, prices: dict[str, dict[str, float]] | None = None
) -> str:
    """The README.md text of an export of ``snap`` (see the module)."""
    manifest = snap.manifest
    facts = _label_facts(engine, snap.id)
    agreement = _agreement(engine, snap.name)
    cost = cost_figures(engine, facts, prices)
    params = manifest.get("params", {})
    hh = agreement["human_human"]
    lines = [
        "---",
        yaml.safe_dump(_metadata(snap, fmt), sort_keys=False).rstrip(),
        "---",
        "",
        f"# {snap.name}",
        "",
        (
            f"Preference pairs frozen by accord (policy `{snap.policy}`, content hash "
            f"`{snap.content_hash}`): {snap.n_train} train and {snap.n_test} test examples."
        ),
        "",
        "## Label sources",
        "",
        "| label source | examples |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in sorted(manifest.get("source_mix", {}).items())]
    judged = ", ".join(f"{v} {k}" for k, v in sorted(facts["judgments"].items()))
    lines += [
        "",
        f"Judgments on these pairs: {judged or 'none'}.",
        "",
        "## Judges and backends",
        "",
    ]
    lines += [
        f"- `{j['judge']}` ({j['backend']}): {j['pairs']} pairs" for j in facts["judges"]
    ] or ["No AI judge labelled these pairs."]
    lines += ["", "## Constitutions", ""]
    lines += [f"- {c['name']} {c['version']}: `{c['hash']}`" for c in facts["constitutions"]] or [
        "No constitution recorded."
    ]
    lines += [
        "",
        "## Annotators",
        "",
        f"{facts['annotators']} human annotators.",
        "",
        "## Agreement",
        "",
        (
            f"- human–human Krippendorff α: {_ci(hh.get('alpha'))}; raw agreement "
            f"{_ci(hh.get('agreement'))} on {hh.get('n_units_multi', 0)} pairs rated more "
            "than once"
        ),
    ]
    lines += [
        (
            f"- human–AI agreement of `{r['judge']}`: {_ci(r['agreement'])}, "
            f"κ {_ci(r['kappa'])} over {r['n']} AI labels of pairs with a human majority"
        )
        for r in agreement["human_ai"]
    ]
    annotator_model = dawid_skene_lines(manifest.get("dawid_skene"))
    lines += [
        "",
        "## Calibration",
        "",
        *calibration_lines(manifest.get("calibration")),
        "",
        "## Escalation",
        "",
        *escalation_lines(manifest.get("escalation")),
        "",
        *(["## Annotator model", "", *annotator_model, ""] if annotator_model else []),
        "## Annotator quality (gold pairs)",
        "",
        *gold_lines(manifest.get("gold")),
        "",
        "## Split",
        "",
        (
            f"Test split: a share of {params.get('test_fraction')} of prompts, by a hash of "
            f"the normalized prompt with seed {params.get('seed')} (every response to one "
            "prompt lands in one split)."
        ),
        "",
        "## Cost",
        "",
    ]
    for row in cost["judges"]:
        if row["tokens_per_label"] is None:
            lines.append(f"- `{row['judge']}`: {row['note']}")
            continue
        per = row["tokens_per_label"]
        line = (
            f"- `{row['judge']}`: {per['input']} input + {per['output']} output tokens per "
            f"AI-labelled pair; {row['snapshot_tokens']['input']} + "
            f"{row['snapshot_tokens']['output']} tokens for the {row['pairs_in_snapshot']} "
            "pairs here"
        )
        if "dollars" in row:
            line += f", ${row['dollars']:.4f}"
        lines.append(line)
    if not cost["judges"]:
        lines.append("- no AI labels")
    dollars = (
        f"${cost['dollars']:.4f}"
        if cost["dollars"] is not None
        else "not computed (give --price-table with a price for every judge)"
    )
    lines += [
        f"- AI labelling in dollars: {dollars}",
        (
            f"- human labelling time: {cost['human_time']} (Argilla records when an answer "
            "was given, not how long it took)"
        ),
        "",
    ]
    return "\n".join(lines)


def write_card(
    engine: Engine, snap, out: Path, *, fmt: str, prices: dict[str, dict[str, float]] | None = None
) -> Path:
    path = Path(out) / "README.md"
    path.write_text(dataset_card(engine, snap, fmt=fmt, prices=prices), encoding="utf-8")
    return path
