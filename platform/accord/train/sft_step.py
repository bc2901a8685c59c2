"""The ``train_sft`` recipe step: which data SFT trains on, and saying so.

With ``demonstrations: auto`` (the ``instructgpt`` recipe) the step trains on human
demonstrations where the store has them: the demonstrations in force (``accord.store.crud.
demonstrations``) are frozen into a demonstrations snapshot named ``<recipe>-demonstrations``
(numbered ``…-2`` when they changed since, as the snapshot step does), and SFT trains on it.
With none in the store it trains on the step's snapshot (its chosen responses, or revisions
with ``target: revisions``). ``required`` fails without demonstrations; ``never`` (the
default) always trains on the snapshot. The step's figures and the recipe summary say which
data it used (``sft_data``).

    steps:
      - {kind: snapshot, policy: human-only}
      - {kind: train_sft, demonstrations: auto}
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ..jobs.context import StepContext
from ..snapshots.build import SnapshotError, list_snapshots
from ..snapshots.demonstrations import create_demonstration_snapshot
from ..store.crud.demonstrations import demonstrations_in_force
from ..workflows.outputs import FiguresOutput, recipe_name
from .recipe_steps import (
    SFTStepFields,
    model_path_for,
    snapshot_for,
    train_or_reuse,
    train_step_output,
)

MAX_NAME_VARIANTS = 100


def _demonstration_snapshot(ctx: StepContext, step: SFTStepFields, test_fraction: float):
    """The demonstrations snapshot of the store's demonstrations in force (same content: the
    same snapshot)."""
    base = f"{recipe_name(ctx)}-demonstrations"
    taken = {s.name for s in list_snapshots(ctx.engine)}
    for i in range(1, MAX_NAME_VARIANTS + 1):
        name = base if i == 1 else f"{base}-{i}"
        try:
            return create_demonstration_snapshot(
                ctx.engine,
                name=name,
                test_fraction=test_fraction,
                seed=ctx.seed,
                source=step.demonstration_source,
            )
        except SnapshotError:
            if name not in taken:
                raise
    raise SnapshotError(f"{base}: {MAX_NAME_VARIANTS} snapshots with this name exist already")


def _count_demonstrations(ctx: StepContext, source: str | None) -> int:
    with Session(ctx.engine) as session:
        return len(demonstrations_in_force(session, source=source))


def _test_fraction_of(ctx: StepContext, step: SFTStepFields) -> float:
    """The held-out share of the recipe's preference snapshot (0.1 without one)."""
    try:
        from ..snapshots.build import get_snapshot

        name, _ = snapshot_for(ctx, step.snapshot)
        return float(get_snapshot(ctx.engine, name).params.get("test_fraction", 0.1))
    except (SnapshotError, ValueError):
        return 0.1


def run_train_sft(ctx: StepContext, step: SFTStepFields) -> FiguresOutput:
    n_demos = (
        _count_demonstrations(ctx, step.demonstration_source)
        if step.demonstrations != "never"
        else 0
    )
    if step.demonstrations == "required" and not n_demos:
        where = f" from {step.demonstration_source!r}" if step.demonstration_source else ""
        raise ValueError(
            f"step {ctx.step_name!r}: demonstrations: required, but the store holds no human "
            f"demonstration{where} (collect some with `accord argilla push --mode "
            "demonstration`, then pull)"
        )
    figures: dict[str, Any]
    if n_demos:
        snap = _demonstration_snapshot(ctx, step, _test_fraction_of(ctx, step))
        snapshot, digest = snap.name, snap.content_hash
        figures = {
            "sft_data": "human demonstrations",
            "demonstrations": snap.n_train + snap.n_test,
            "demonstration_authors": snap.manifest.get("authors", {}),
        }
        note = (
            f"{ctx.step_name}: SFT on {snap.n_train} human demonstrations "
            f"(snapshot {snap.name}, {len(figures['demonstration_authors'])} annotators)"
        )
    else:
        snapshot, digest = snapshot_for(ctx, step.snapshot)
        target = step.options.get("target", getattr(step, "target", "chosen"))
        what = "critique-revise revisions" if target == "revisions" else "chosen responses"
        figures = {"sft_data": what}
        note = f"{ctx.step_name}: SFT on the {what} of snapshot {snapshot}" + (
            " (no human demonstrations in the store)" if step.demonstrations == "auto" else ""
        )
    kwargs = step.build_kwargs(
        snapshot=snapshot,
        model=model_path_for(ctx, step.base_model),
        run_name=f"{recipe_name(ctx)}/{ctx.step_name}",
        seed=ctx.seed,
    )
    task = ctx.progress.add_step(f"{ctx.step_name}: train sft", total=1)
    record = train_or_reuse(ctx, step, kwargs, digest)
    ctx.progress.advance(task)
    ctx.progress.note(note)
    out = train_step_output([record], "sft", snapshot=snapshot, snapshot_hash=digest, **figures)
    out.brief["sft_data"] = figures["sft_data"]
    return out
