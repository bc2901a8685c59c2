"""``accord snapshot`` and ``accord export``: curated, immutable preference datasets.

Why: a trainer must see a frozen, content-hashed dataset (labels resolved by a named policy,
a leak-free split), never the live store, so a run can be traced to exactly what it learnt from.

    accord snapshot create helpful-v1 --policy human-over-ai --test-fraction 0.1
    accord snapshot create demos-v1 --kind demonstrations --source argilla:demos-v1
    accord export demos-v1 --format messages --out exports/demos-v1
    accord snapshot diff helpful-v1 helpful-v2
    accord export helpful-v1 --format trl --out exports/helpful-v1
    accord snapshot verify helpful-v1 --export exports/helpful-v1

The policies (``--policy``) and export formats (``--format``) are the registries
``accord.snapshots.policies.POLICIES`` and ``accord.snapshots.export_formats.FORMATS``; the
help lists them.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..snapshots.export_formats import FORMATS as EXPORT_FORMATS
from ..snapshots.policies import POLICIES
from .common import DbOption, JsonOption, console, engine_for, fail, print_json

app = typer.Typer(help="Freeze, inspect, compare and verify snapshots.", no_args_is_help=True)


def _snapshot_error():
    from ..snapshots import SnapshotError

    return SnapshotError


@app.command()
def create(
    name: str = typer.Argument(..., help="A new, unique snapshot name."),
    policy: str = typer.Option(None, "--policy", "-p", help=" | ".join(POLICIES)),
    kind: str = typer.Option(
        "preferences",
        "--kind",
        help="preferences: pairs resolved by --policy; demonstrations: (prompt, human "
        "demonstration) examples for SFT (no policy; --source keeps one origin, e.g. "
        "argilla:demos-v1).",
    ),
    test_fraction: float = typer.Option(
        0.1, help="Share of prompts (by normalized prompt) in the test split."
    ),
    seed: int = typer.Option(0, help="Seed of the hash-based split."),
    keep_ties: bool = typer.Option(
        False, "--keep-ties/--drop-ties", help="Keep tied pairs (score 0.5)."
    ),
    tie_band: float = typer.Option(0.0, help="|P(a) - 0.5| <= band counts as a tie."),
    min_agreement: float = typer.Option(
        0.75, help="min-agreement: share of votes on the winning side."
    ),
    min_labels: int = typer.Option(1, help="Drop pairs with fewer votes."),
    human_weight: float = typer.Option(1.0, help="soft: weight of a human vote vs an AI vote."),
    min_annotator_reliability: float = typer.Option(
        None, help="Exclude annotators whose agreement with others is below this (audit)."
    ),
    min_principle_agreement: float = typer.Option(
        None,
        help="AI labels of principles whose human agreement is below this are dropped/weighted.",
    ),
    low_agreement_ai: str = typer.Option(
        "drop", help="drop | weight (with --min-principle-agreement)."
    ),
    min_gold_accuracy: float = typer.Option(
        None, help="Drop the labels of annotators whose accuracy on gold pairs is below this."
    ),
    calibration: int = typer.Option(
        None,
        help="Map the AI votes of a calibration's judge through it first (accord calibrate list).",
    ),
    target: float = typer.Option(
        None, help="escalate: agreement with humans the kept AI labels must reach (e.g. 0.85)."
    ),
    delta: float = typer.Option(
        None, help="escalate: allowed probability that the promise fails (e.g. 0.1)."
    ),
    source: str = typer.Option(
        None, help="Only pairs (demonstrations: only demonstrations) from this source."
    ),
    job: int = typer.Option(None, help="Only pairs made by this job."),
    prompt_source: str = typer.Option(
        None, help="--kind demonstrations: only prompts from this source."
    ),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Freeze the current resolution of pairs into preference examples, or (``--kind
    demonstrations``) the human demonstrations into SFT examples."""
    from ..snapshots import PolicyParams, create_snapshot
    from ..snapshots.demonstrations import SNAPSHOT_KINDS

    if kind not in SNAPSHOT_KINDS:
        fail(f"--kind must be one of {', '.join(SNAPSHOT_KINDS)}, got {kind!r}", 2)
    if kind == "demonstrations":
        if policy is not None or job is not None:
            fail("--kind demonstrations takes no --policy or --job (they select pairs)", 2)
        _create_demonstrations(
            name,
            test_fraction=test_fraction,
            seed=seed,
            source=source,
            prompt_source=prompt_source,
            db=db,
            json_out=json_out,
        )
        return
    if policy is None:
        fail(f"give --policy ({' | '.join(POLICIES)}) or --kind demonstrations", 2)
    if prompt_source is not None:
        fail("--prompt-source applies to --kind demonstrations only", 2)
    try:
        params = PolicyParams(
            keep_ties=keep_ties,
            tie_band=tie_band,
            min_agreement=min_agreement,
            min_labels=min_labels,
            human_weight=human_weight,
            min_annotator_reliability=min_annotator_reliability,
            min_principle_agreement=min_principle_agreement,
            low_agreement_ai=low_agreement_ai,
            calibration=calibration,
            target=target,
            delta=delta,
        )
        with console.status(f"building snapshot {name}…"):
            snap = create_snapshot(
                engine_for(db),
                name=name,
                policy=policy,
                test_fraction=test_fraction,
                seed=seed,
                params=params,
                source=source,
                job_id=job,
                min_gold_accuracy=min_gold_accuracy,
            )
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json(snap.manifest)
        return
    m = snap.manifest
    console.print(f"snapshot [bold]{snap.name}[/] ({snap.policy}) {snap.content_hash}")
    console.print(
        f"  train {snap.n_train}  test {snap.n_test}  source mix {m['source_mix']}  "
        f"dropped ties {m['counts']['dropped_ties']}"
    )
    if "calibration" in m:
        c = m["calibration"]
        console.print(
            f"  calibration {c['id']} (v{c['version']}, {c['method']}) mapped "
            f"{c['votes_mapped']} AI votes of {c['judge']}"
        )
    if "escalation" in m:
        e = m["escalation"]
        for j in e["judges"]:
            t = "none certified" if j["threshold"] is None else f"{j['threshold']:.3f}"
            console.print(
                f"  escalation {j['judge']}: threshold {t} (target {e['target']}, delta "
                f"{e['delta']}), kept {j['kept']} of {j['ai_only_pairs']} AI-only pairs"
            )
    if "dawid_skene" in m:
        d = m["dawid_skene"]
        accuracies = ", ".join(f"{a['annotator']} {a['accuracy']:.2f}" for a in d["annotators"])
        console.print(f"  dawid-skene: {d['iterations']} iterations; accuracy {accuracies}")


def _create_demonstrations(
    name: str, *, test_fraction, seed, source, prompt_source, db, json_out: bool
) -> None:
    from ..snapshots.demonstrations import create_demonstration_snapshot

    try:
        with console.status(f"building snapshot {name}…"):
            snap = create_demonstration_snapshot(
                engine_for(db),
                name=name,
                test_fraction=test_fraction,
                seed=seed,
                source=source,
                prompt_source=prompt_source,
            )
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json(snap.manifest)
        return
    m = snap.manifest
    console.print(f"snapshot [bold]{snap.name}[/] (demonstrations) {snap.content_hash}")
    console.print(
        f"  train {snap.n_train}  test {snap.n_test}  prompts {m['counts']['prompts']}  "
        f"authors {m['authors']}"
    )


@app.command("list")
def list_(db: DbOption = None, json_out: JsonOption = False) -> None:
    """All snapshots, oldest first."""
    from ..snapshots import list_snapshots

    snaps = list_snapshots(engine_for(db))
    if json_out:
        print_json(
            [
                {
                    "name": s.name,
                    "policy": s.policy,
                    "content_hash": s.content_hash,
                    "train": s.n_train,
                    "test": s.n_test,
                    "created_at": s.created_at,
                }
                for s in snaps
            ]
        )
        return
    table = Table("name", "policy", "train", "test", "hash", "created")
    for s in snaps:
        table.add_row(
            s.name,
            s.policy,
            str(s.n_train),
            str(s.n_test),
            s.content_hash[:12],
            s.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command()
def show(name: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """A snapshot's manifest."""
    from ..snapshots import get_snapshot

    try:
        snap = get_snapshot(engine_for(db), name)
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json(snap.manifest)
        return
    table = Table("field", "value", show_header=False)
    for k, v in snap.manifest.items():
        table.add_row(k, str(v))
    console.print(table)


@app.command()
def diff(a: str, b: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Examples added, removed and flipped from snapshot A to snapshot B."""
    from ..snapshots import diff_snapshots

    try:
        d = diff_snapshots(engine_for(db), a, b)
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json(d)
        return
    table = Table("change", "examples")
    for k in ("added", "removed", "flipped", "prob_changed", "split_changed", "unchanged"):
        table.add_row(k, str(d[k]))
    console.print(
        f"{a} ({d['a']['examples']}) → {b} ({d['b']['examples']})"
        + ("  [green]identical[/]" if d["identical"] else "")
    )
    console.print(table)


@app.command()
def verify(
    name: str = typer.Argument(None, help="Snapshot to verify in the store."),
    export_dir: Path = typer.Option(None, "--export", help="Also verify an exported folder."),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Detect tampering of stored snapshot rows or exported files (exit 1 if any)."""
    from ..snapshots import verify_export, verify_snapshot

    if name is None and export_dir is None:
        fail("give a snapshot NAME and/or --export DIR", code=2)
    results = {}
    try:
        if name is not None:
            results["store"] = verify_snapshot(engine_for(db), name).as_dict()
        if export_dir is not None:
            results["export"] = verify_export(
                export_dir, engine=engine_for(db) if name else None, name=name
            ).as_dict()
    except ValueError as exc:
        fail(str(exc))
    ok = all(r["ok"] for r in results.values())
    if json_out:
        print_json({"ok": ok, **results})
    else:
        for where, r in results.items():
            mark = "[green]ok[/]" if r["ok"] else "[red]TAMPERED[/]"
            console.print(f"{where}: {mark} ({r['checked']} checked)")
            for p in r["problems"]:
                console.print(f"  - {p}")
    if not ok:
        raise typer.Exit(1)


def export(
    name: str = typer.Argument(..., help="Snapshot to export."),
    fmt: str = typer.Option("trl", "--format", "-f", help=" | ".join(EXPORT_FORMATS)),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    conversational: bool = typer.Option(False, help="Message lists instead of plain text."),
    price_table: Path = typer.Option(
        None,
        "--price-table",
        help="YAML/JSON: model id → {input, output} dollars per 1M tokens "
        "(a dollar figure in the dataset card of hf/trl exports).",
    ),
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a snapshot as train/test files plus manifest.json (and README.md, a dataset card,
    for hf and trl) for trainers."""
    from ..snapshots import export_snapshot

    try:
        with console.status(f"exporting {name}…"):
            manifest = export_snapshot(
                engine_for(db),
                name=name,
                fmt=fmt,
                out_dir=out,
                conversational=conversational,
                price_table=price_table,
            )
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json(
            {"out": str(out), "files": manifest["files"], "content_hash": manifest["content_hash"]}
        )
    else:
        console.print(f"exported [bold]{name}[/] as {fmt} to {out}")
        for f, info in manifest["files"].items():
            if "rows" in info:
                console.print(f"  {f}: {info['rows']} rows")
