"""Recipe steps for human labels through Argilla: ``argilla_push`` and ``argilla_pull``.

Both are optional in recipes: with no Argilla server configured (no ``ARGILLA_API_KEY`` in the
environment) they are skipped with a message saying how to configure one, unless the step says
``required: true``. The API key is never written in a recipe; the URL may be (``api_url``).

``argilla_pull`` can gate the rest of a recipe on human labels: with ``min_labelled_pairs`` or
``min_labelled_fraction`` it stops the run with ``HumanLabelsPending`` (a clear message with
the dataset's address and the counts) until enough pushed pairs carry submitted human labels.
Rerunning after the annotators finished recomputes nothing before the gate and goes on.

    steps:
      - {kind: argilla_push, dataset: prefs-v1, workspace: labels, min_submitted: 2,
         priority: uncertainty, gold_rate: 0.1}
      - {kind: argilla_pull, dataset: prefs-v1, workspace: labels, min_labelled_fraction: 1.0}
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, select

from ..jobs.context import StepContext
from ..jobs.registry import StepConfig
from ..store.models import ArgillaRecord, Judgment
from .outputs import FiguresOutput, console_for, recipe_name, resolve_path


class HumanLabelsPending(ValueError):
    """Not enough human labels yet: annotate in Argilla, then rerun the recipe."""


class ArgillaStepConfig(StepConfig):
    """Where the Argilla dataset is."""

    dataset: str | None = Field(
        default=None, description="Argilla dataset (default: the recipe's name)."
    )
    workspace: str | None = Field(default=None, description="Argilla workspace.")
    api_url: str | None = Field(
        default=None,
        description="Server URL (default: $ARGILLA_API_URL); "
        "the key always comes from $ARGILLA_API_KEY.",
    )
    required: bool = Field(
        default=False, description="Fail instead of skipping when no Argilla server is configured."
    )


class ArgillaPushConfig(ArgillaStepConfig):
    """Push pairs to an Argilla dataset for human labels (idempotent)."""

    all_unlabelled: bool = Field(
        default=False,
        description="Push every unlabelled pair of the store instead of the input step's pairs.",
    )
    min_submitted: int = Field(default=1, ge=1, description="Annotators per record (overlap).")
    constitution: str | None = Field(
        default=None, description="Guidelines from this constitution (bundled name or YAML path)."
    )
    with_suggestions: bool = Field(
        default=False,
        description="Show the AI label as a suggestion "
        "(anchors annotators and biases the human–AI audit).",
    )
    priority: Literal["uncertainty", "disagreement", "position-inconsistent", "random"] | None = (
        Field(
            default=None,
            description="Most informative pairs first (record metadata "
            "accord_priority, sorted descending).",
        )
    )
    gold_rate: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Share of the pushed records "
        "that are gold pairs (accord gold add), for annotator accuracy.",
    )


class ArgillaPullConfig(ArgillaStepConfig):
    """Pull submitted answers as human judgments; optionally wait for enough of them."""

    min_labels_per_pair: int = Field(
        default=1,
        ge=1,
        description="Submitted human labels that make a pushed pair count as labelled.",
    )
    min_labelled_pairs: int = Field(
        default=0,
        ge=0,
        description="Stop the recipe until at least this many pushed pairs are labelled.",
    )
    min_labelled_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Stop the recipe until this share of pushed pairs is labelled.",
    )


def _dataset(ctx: StepContext, config: ArgillaStepConfig) -> str:
    return config.dataset or recipe_name(ctx)


def _connection(ctx: StepContext, config: ArgillaStepConfig):
    """A checked connection, or None (with a message) when no server is configured."""
    url = config.api_url or os.environ.get("ARGILLA_API_URL")
    if not os.environ.get("ARGILLA_API_KEY"):
        message = (
            f"{ctx.step_name}: no Argilla server configured (set ARGILLA_API_URL and "
            "ARGILLA_API_KEY; `accord argilla local start` runs one locally)"
        )
        if config.required:
            raise ValueError(message)
        console_for(ctx).print(f"[yellow]skipped[/] {message}")
        return None
    try:
        from ..feedback.argilla.client import connect
    except ImportError as exc:
        raise ValueError(
            f"{ctx.step_name}: the Argilla SDK is not installed "
            f"(pip install 'accord[argilla]'): {exc}"
        ) from None
    return connect(api_url=url)


def _skipped(ctx: StepContext, config: ArgillaStepConfig, pairs: list[int]) -> FiguresOutput:
    return FiguresOutput(
        kind="argilla",
        pairs=pairs,
        figures={"skipped": True, "dataset": _dataset(ctx, config)},
        brief={"skipped": "no Argilla server configured"},
    )


def run_argilla_push(ctx: StepContext, config: ArgillaPushConfig) -> FiguresOutput:
    pair_ids = None if config.all_unlabelled else ctx.input_ids("pairs", config.input)
    if pair_ids is not None and not pair_ids:
        raise ValueError(
            f"step {ctx.step_name!r}: no pairs to push (no earlier step produced pairs; "
            "set all_unlabelled: true to push the store's unlabelled pairs)"
        )
    connection = _connection(ctx, config)
    if connection is None:
        return _skipped(ctx, config, pair_ids or [])
    from ..feedback.argilla.push import push_pairs

    guidelines = None
    if config.constitution:
        from ..feedback.argilla.schema import guidelines_from_constitution

        path = resolve_path(ctx, config.constitution)
        guidelines = guidelines_from_constitution(
            str(path) if path.is_file() else config.constitution
        )
    task = ctx.progress.add_step(
        f"{ctx.step_name}: push to Argilla", total=len(pair_ids or []) or 1
    )
    result = push_pairs(
        ctx.engine,
        dataset=_dataset(ctx, config),
        workspace=config.workspace,
        pair_ids=pair_ids,
        min_submitted=config.min_submitted,
        guidelines=guidelines,
        with_suggestions=config.with_suggestions,
        seed=ctx.seed,
        connection=connection,
        progress=lambda done, total: None,
        priority=config.priority,
        gold_rate=config.gold_rate,
    )
    ctx.progress.advance(task, len(pair_ids or []) or 1)
    figures: dict[str, Any] = {**result.to_dict(), "skipped": False}
    return FiguresOutput(
        kind="argilla",
        pairs=pair_ids or [],
        figures=figures,
        counts={"pushed": result.selected, "created": result.created},
        brief={"dataset": result.dataset, "url": result.url},
    )


def labelled_counts(ctx: StepContext, dataset: str, min_labels: int) -> tuple[int, int]:
    """(pairs pushed to ``dataset``, those with at least ``min_labels`` submitted human labels)."""
    with ctx.engine.connect() as conn:
        pushed = conn.execute(
            select(func.count()).select_from(ArgillaRecord).where(ArgillaRecord.dataset == dataset)
        ).scalar_one()
        per_pair = (
            select(Judgment.pair_id)
            .where(
                Judgment.source == f"argilla:{dataset}",
                Judgment.kind == "human",
                Judgment.status == "submitted",
            )
            .group_by(Judgment.pair_id)
            .having(func.count() >= min_labels)
            .subquery()
        )
        labelled = conn.execute(select(func.count()).select_from(per_pair)).scalar_one()
    return int(pushed), int(labelled)


def run_argilla_pull(ctx: StepContext, config: ArgillaPullConfig) -> FiguresOutput:
    dataset = _dataset(ctx, config)
    connection = _connection(ctx, config)
    if connection is None:
        return _skipped(ctx, config, [])
    from ..feedback.argilla.pull import pull_judgments

    task = ctx.progress.add_step(f"{ctx.step_name}: pull from Argilla", total=1)
    result = pull_judgments(
        ctx.engine, dataset=dataset, workspace=config.workspace, connection=connection
    )
    ctx.progress.advance(task)
    pushed, labelled = labelled_counts(ctx, dataset, config.min_labels_per_pair)
    needed = max(config.min_labelled_pairs, math.ceil(config.min_labelled_fraction * pushed))
    if labelled < needed:
        raise HumanLabelsPending(
            f"{ctx.step_name}: {labelled} of {pushed} pairs pushed to Argilla dataset {dataset!r} "
            "have "
            f"{config.min_labels_per_pair}+ submitted human label(s); this recipe needs {needed}. "
            f"Annotate at {connection.config.api_url} (dataset {dataset!r}), then rerun the "
            "recipe: "
            "every step before this one is reused"
        )
    with ctx.engine.connect() as conn:
        pairs = [
            r[0]
            for r in conn.execute(
                select(ArgillaRecord.pair_id)
                .where(ArgillaRecord.dataset == dataset)
                .order_by(ArgillaRecord.pair_id)
            )
        ]
    figures = {**result.to_dict(), "pushed": pushed, "labelled": labelled, "skipped": False}
    return FiguresOutput(
        kind="argilla",
        pairs=pairs,
        figures=figures,
        counts={"new_labels": result.created, "labelled_pairs": labelled},
        brief={"dataset": dataset},
    )
