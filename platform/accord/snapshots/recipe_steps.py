"""Recipe steps for curated data: ``import_preferences``, ``snapshot`` and ``export``
(imported by ``accord.jobs.registry``).

- ``import_preferences``: a preference file (trl, hh-rlhf, ultrafeedback, accord, csv, hf) or
  the bundled sample into the store, keyed by content (importing twice adds nothing); hands its
  prompts, responses and pairs to later steps (e.g. an AI judge labelling human-labelled pairs).
- ``snapshot``: freeze the store's labels with a resolution policy. Same content → same
  snapshot. The default name is ``<recipe>-<policy>``; when labels changed since (say, human
  labels pulled from Argilla) the new content gets the next free name (``…-2``), so a rerun
  never fails on immutability. An explicit ``snapshot:`` name that exists with other content
  is an error, as on the CLI.
- ``export``: write a snapshot for trainers outside accord (trl JSONL, hf, parquet); skipped
  when the folder already holds a verified export of the same content.

    steps:
      - {kind: snapshot, policy: human-over-ai, test_fraction: 0.2}
      - {kind: export, format: trl}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import select

from ..jobs.context import StepContext
from ..jobs.registry import StepConfig, register_step
from ..settings import get_settings
from ..workflows.outputs import FiguresOutput, outputs_of, recipe_name, resolve_path, step_output
from .build import SnapshotError, create_snapshot, get_snapshot, list_snapshots
from .export_formats import FORMATS
from .policies import POLICIES, PolicyParams

BUNDLED_PREFERENCES = {
    "sample": ("sample_preferences.jsonl", "trl"),
    "human-pairs": ("human_pairs.jsonl", "accord"),
}


# -- import_preferences ----------------------------------------------------------------------


class ImportPreferencesConfig(StepConfig):
    """Import a preference file into the store (its labels keep the kind they have: human
    for human-labelled datasets, or ai with label_kind: ai)."""

    file: str | None = Field(default=None, description="Preference file (relative to the recipe).")
    bundled: str | None = Field(
        default=None,
        description="A bundled file: sample (40 "
        "hand-written preferences, trl format) or human-pairs (48 "
        "pairs with clear right answers and their annotators' labels, "
        "accord format; the format is implied).",
    )
    format: str = Field(
        default="trl", description="trl, hh-rlhf, ultrafeedback-binarized, accord, csv or hf."
    )
    label_kind: Literal["human", "ai"] = Field(default="human", description="Who made the labels.")
    source: str | None = Field(
        default=None,
        description="Source label of the rows (default: the file name without extension).",
    )
    soft_labels: bool = Field(default=False, description="Read scores as soft labels.")
    skip_invalid: bool = Field(
        default=False,
        description="Write invalid rows (e.g. an HH-RLHF "
        "row whose last reply is empty) to a rejects file and import the "
        "rest (default: stop, store nothing).",
    )
    rejects: str | None = Field(
        default=None,
        description="Rejects file for skip_invalid, "
        "relative to the working folder (default: "
        "<home>/rejects/<recipe>/<step>.rejects.jsonl; never beside the "
        "input, which may be read-only or shared).",
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ImportPreferencesConfig:
        if bool(self.file) == bool(self.bundled):
            raise ValueError("give exactly one of file, bundled")
        if self.bundled and self.bundled not in BUNDLED_PREFERENCES:
            raise ValueError(
                f"unknown bundled file {self.bundled!r}; known: {sorted(BUNDLED_PREFERENCES)}"
            )
        from ..formats.registry import format_name

        format_name(self.format)  # an unknown format fails here, before anything runs
        if self.rejects and not self.skip_invalid:
            raise ValueError("rejects is only used with skip_invalid: true")
        return self


def rejects_path_for(ctx: StepContext, config: ImportPreferencesConfig) -> Path:
    """Where the step writes invalid rows: ``rejects`` (relative to the working folder) or
    ``<home>/rejects/<recipe>/<step>.rejects.jsonl``."""
    if config.rejects:
        return Path(config.rejects).expanduser().resolve()
    return (
        get_settings().home / "rejects" / recipe_name(ctx) / f"{ctx.step_name}.rejects.jsonl"
    ).resolve()


def run_import_preferences(ctx: StepContext, config: ImportPreferencesConfig) -> FiguresOutput:
    from ..data import sample_path
    from ..importer import import_file
    from ..store.models import Pair

    if config.bundled:
        name, fmt = BUNDLED_PREFERENCES[config.bundled]
        path = sample_path(name)
    else:
        path, fmt = resolve_path(ctx, config.file), config.format
    source = config.source or path.name.split(".")[0]
    rejects = rejects_path_for(ctx, config) if config.skip_invalid else None
    task = ctx.progress.add_step(f"{ctx.step_name}: import {path.name}", total=1)
    report = import_file(
        ctx.engine,
        path,
        fmt=fmt,
        label_kind=config.label_kind,
        source=source,
        soft_labels=config.soft_labels,
        skip_invalid=config.skip_invalid,
        rejects_path=rejects,
    )
    ctx.progress.advance(task)
    if report.invalid:
        ctx.progress.note(
            f"{ctx.step_name}: {report.invalid} invalid row(s) of {path.name} "
            f"skipped, written to {report.rejects_path}"
        )
    p = Pair.__table__
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(p.c.id, p.c.prompt_id, p.c.response_a_id, p.c.response_b_id)
            .where(p.c.source == source)
            .order_by(p.c.id)
        ).all()
    new = {f"new_{k}": v for k, v in report.new.items() if v}
    rejected = {"invalid": report.invalid, "rejects": report.rejects_path} if report.invalid else {}
    return FiguresOutput(
        kind="import",
        prompts=list(dict.fromkeys(r.prompt_id for r in rows)),
        responses=list(dict.fromkeys(x for r in rows for x in (r.response_a_id, r.response_b_id))),
        pairs=[r.id for r in rows],
        counts={"records": report.records, **new},
        figures={
            "file": str(path),
            "source": source,
            "label_kind": config.label_kind,
            **report.as_dict(),
        },
        brief=rejected,
    )


# -- snapshot --------------------------------------------------------------------------------


class SnapshotStepConfig(StepConfig):
    """Freeze the store's labels into an immutable, content-hashed snapshot."""

    policy: str = Field(
        default="human-over-ai", description=f"Resolution policy: {', '.join(POLICIES)}."
    )
    snapshot: str | None = Field(
        default=None,
        description="Snapshot name; {recipe} and {policy} "
        "are replaced (default: {recipe}-{policy}, numbered when the "
        "content changed since).",
    )
    test_fraction: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Share of prompts held out."
    )
    seed: int | None = Field(default=None, description="Split seed (default: the recipe's seed).")
    pair_source: str | None = Field(
        default=None,
        description="Only pairs with this source "
        "(e.g. critique-revise for revision ≻ original pairs).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Policy options (PolicyParams): "
        "keep_ties, tie_band, min_agreement, min_labels, human_weight, "
        "min_annotator_reliability, min_principle_agreement, low_agreement_ai.",
    )
    max_name_variants: int = Field(default=100, ge=1, description="Numbered default names tried.")
    min_gold_accuracy: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Drop the labels of annotators below this accuracy on gold pairs.",
    )

    @model_validator(mode="after")
    def _check(self) -> SnapshotStepConfig:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        try:
            PolicyParams(**self.params)
        except TypeError as exc:
            raise ValueError(f"params: {exc}") from None
        return self


def _create_named(ctx: StepContext, config: SnapshotStepConfig, params: PolicyParams, seed: int):
    recipe = recipe_name(ctx)
    kwargs = {
        "policy": config.policy,
        "test_fraction": config.test_fraction,
        "seed": seed,
        "params": params,
        "source": config.pair_source,
    }
    if config.min_gold_accuracy is not None:
        kwargs["min_gold_accuracy"] = config.min_gold_accuracy
    if config.snapshot is not None:
        name = config.snapshot.format(recipe=recipe, policy=config.policy)
        return create_snapshot(ctx.engine, name=name, **kwargs)
    base = f"{recipe}-{config.policy}"
    taken = {s.name for s in list_snapshots(ctx.engine)}
    for i in range(1, config.max_name_variants + 1):
        name = base if i == 1 else f"{base}-{i}"
        try:
            # returns the existing snapshot when its content is the same (idempotent)
            return create_snapshot(ctx.engine, name=name, **kwargs)
        except SnapshotError:
            if name not in taken:
                raise
    raise SnapshotError(
        f"{base}: {config.max_name_variants} snapshots with this default name exist "
        "already; give the step a snapshot: name"
    )


def run_snapshot(ctx: StepContext, config: SnapshotStepConfig) -> FiguresOutput:
    params = PolicyParams(**config.params)
    seed = ctx.seed if config.seed is None else config.seed
    before = {s.content_hash for s in list_snapshots(ctx.engine)}
    task = ctx.progress.add_step(f"{ctx.step_name}: snapshot ({config.policy})", total=1)
    snap = _create_named(ctx, config, params, seed)
    ctx.progress.advance(task)
    if snap.n_train + snap.n_test == 0:
        raise SnapshotError(
            f"snapshot {snap.name!r} has no examples: no pair has a label under the "
            f"{config.policy!r} policy (label pairs first)"
        )
    manifest = snap.manifest or {}
    figures = {
        "name": snap.name,
        "content_hash": snap.content_hash,
        "policy": snap.policy,
        "n_train": snap.n_train,
        "n_test": snap.n_test,
        "counts": manifest.get("counts", {}),
        "source_mix": manifest.get("source_mix", {}),
        "new": snap.content_hash not in before,
    }
    return FiguresOutput(
        kind="snapshot",
        figures=figures,
        counts={"examples": snap.n_train + snap.n_test},
        brief={"snapshot": snap.name, "hash": snap.content_hash[:12], "reused": not figures["new"]},
    )


def snapshot_name_for(ctx: StepContext, ref: str | None) -> str:
    """A snapshot step's snapshot (by step name; default: the nearest earlier one), else ``ref``
    itself as a snapshot name in the store."""
    if ref is None:
        found = outputs_of(ctx, "snapshot")
        if not found:
            raise ValueError(
                f"step {ctx.step_name!r}: no snapshot given and no earlier snapshot step"
            )
        return found[-1][1].figures["name"]
    out = step_output(ctx, ref, "snapshot")
    return out.figures["name"] if out is not None else ref


# -- export ----------------------------------------------------------------------------------


class ExportStepConfig(StepConfig):
    """Write a snapshot in a trainer's format (with a manifest of file hashes)."""

    snapshot: str | None = Field(
        default=None,
        description="Snapshot step or snapshot name (default: the nearest earlier snapshot step).",
    )
    format: str = Field(default="trl", description=f"Export format: {', '.join(FORMATS)}.")
    out_dir: str | None = Field(
        default=None, description="Folder (default: <home>/exports/<snapshot>-<format>)."
    )
    conversational: bool = Field(default=False, description="Chat-message columns instead of text.")
    price_table: str | None = Field(
        default=None,
        description="YAML/JSON price table (model → "
        "$ per 1M input/output tokens) for the dataset card's cost.",
    )

    @model_validator(mode="after")
    def _known_format(self) -> ExportStepConfig:
        if self.format not in FORMATS:
            raise ValueError(
                f"unknown export format {self.format!r}; choose one of {', '.join(FORMATS)}"
            )
        return self


def run_export(ctx: StepContext, config: ExportStepConfig) -> FiguresOutput:
    from .export import export_snapshot
    from .verify import verify_export

    snap = get_snapshot(ctx.engine, snapshot_name_for(ctx, config.snapshot))
    out = (
        resolve_path(ctx, config.out_dir)
        if config.out_dir
        else get_settings().home / "exports" / f"{snap.name}-{config.format}"
    )
    manifest_path = out / "manifest.json"
    reused = False
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        same = (
            manifest.get("content_hash"),
            manifest.get("format"),
            manifest.get("conversational"),
        ) == (snap.content_hash, config.format, config.conversational)
        reused = same and verify_export(out).ok
    task = ctx.progress.add_step(f"{ctx.step_name}: export {snap.name} ({config.format})", total=1)
    if not reused:
        export_snapshot(
            ctx.engine,
            name=snap.name,
            fmt=config.format,
            out_dir=out,
            conversational=config.conversational,
            price_table=resolve_path(ctx, config.price_table) if config.price_table else None,
        )
    ctx.progress.advance(task)
    return FiguresOutput(
        kind="export",
        figures={
            "snapshot": snap.name,
            "content_hash": snap.content_hash,
            "path": str(Path(out).resolve()),
            "format": config.format,
            "reused": reused,
        },
        brief={"export": str(out), "reused": reused},
    )


register_step("import_preferences", ImportPreferencesConfig, run_import_preferences)
register_step("snapshot", SnapshotStepConfig, run_snapshot)
register_step("export", ExportStepConfig, run_export)
