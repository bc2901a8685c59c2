"""The ``calibrate`` and ``escalate`` recipe steps (registered by ``accord.audit.recipe_steps``).

    steps:
      - {kind: calibrate, judge: judge-model-id, method: temperature}
      - {kind: escalate, judge: judge-model-id, target: 0.85, delta: 0.1, calibration: calibrate}
      - {kind: snapshot, policy: escalate,
         params: {target: 0.85, delta: 0.1, calibration: calibrate}}

``calibrate`` fits and stores the judge's calibration (``accord.audit.calibrate``; the same
labels give the same stored row back). ``escalate`` certifies the judge's threshold on the
human-labelled pairs (``accord.audit.escalate``), reports coverage and, with
``push_dataset``, sends the AI-only pairs below it to Argilla, most uncertain first. A
``calibration`` given as a step name means that earlier ``calibrate`` step's calibration (the
``snapshot`` step reads it the same way in ``params.calibration``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..jobs.context import StepContext
from ..jobs.registry import StepConfig, register_step
from ..workflows.outputs import FiguresOutput, step_output


def calibration_id_for(ctx: StepContext, ref: int | str | None) -> int | None:
    """A calibration id, or the calibration of the earlier ``calibrate`` step named ``ref``."""
    if ref is None or isinstance(ref, int):
        return ref
    out = step_output(ctx, ref, "calibrate")
    if out is not None:
        return int(out.figures["id"])
    if ref.isdigit():
        return int(ref)
    raise ValueError(
        f"step {ctx.step_name!r}: calibration {ref!r} is neither a calibration id "
        "nor an earlier calibrate step"
    )


class CalibrateStepConfig(StepConfig):
    """Fit a judge's soft labels to the human labels and store the map (versioned)."""

    judge: str = Field(description="Judge model id (as its judgments name it).")
    constitution: str | None = Field(
        default=None,
        description="Constitution name, name@version or hash (needed when the judge used several).",
    )
    principle: str = Field(
        default="", description="One principle's labels ('' = the judge's aggregate label)."
    )
    method: Literal["temperature", "platt", "isotonic"] = Field(
        default="temperature", description="temperature | platt | isotonic."
    )
    folds: int = Field(default=5, ge=2, description="Cross-fitting folds (out-of-sample figures).")
    resamples: int = Field(default=1000, ge=10, description="Bootstrap resamples of the figures.")
    seed: int | None = Field(default=None, description="Seed (default: the recipe's).")


def run_calibrate(ctx: StepContext, config: CalibrateStepConfig) -> FiguresOutput:
    from .calibrate import calibrate_judge

    task = ctx.progress.add_step(f"{ctx.step_name}: calibrate {config.judge}", total=1)
    outcome = calibrate_judge(
        ctx.engine,
        judge=config.judge,
        constitution=config.constitution,
        principle=config.principle,
        method=config.method,
        folds=config.folds,
        n_resamples=config.resamples,
        seed=ctx.seed if config.seed is None else config.seed,
    )
    ctx.progress.advance(task)
    row = outcome.calibration
    figures = {
        "id": row.id,
        "version": row.version,
        "judge": row.judge,
        "constitution_hash": row.constitution_hash,
        "principle": row.principle,
        "method": row.method,
        "params": row.params,
        "n": row.n,
        "human_label_hash": row.human_label_hash,
        "ece": {"before": row.ece_before, "after": row.ece_after},
        "brier": {"before": row.brier_before, "after": row.brier_after},
        "created": outcome.created,
    }
    return FiguresOutput(
        kind="calibrate",
        figures=figures,
        counts={"pairs": row.n},
        brief={
            "calibration": row.id,
            "version": row.version,
            "ece": f"{row.ece_before:.3f} → {row.ece_after:.3f}",
            "reused": not outcome.created,
        },
    )


class EscalateStepConfig(StepConfig):
    """Certify a judge's confidence threshold against humans; escalate the pairs below it."""

    judge: str = Field(description="Judge model id.")
    target: float = Field(
        gt=0, lt=1, description="Agreement with humans the kept AI labels must reach."
    )
    delta: float = Field(
        default=0.1, gt=0, lt=1, description="Allowed probability that the promise fails."
    )
    constitution: str | None = Field(default=None, description="Constitution name or hash.")
    principle: str = Field(default="", description="One principle's labels ('' = aggregate).")
    calibration: int | str | None = Field(
        default=None,
        description="Calibration id, or an earlier calibrate step; applied before thresholding.",
    )
    push_dataset: str | None = Field(
        default=None, description="Push the pairs below the threshold to this Argilla dataset."
    )
    workspace: str | None = Field(default=None, description="Argilla workspace.")
    limit: int | None = Field(
        default=None, ge=1, description="Push at most this many (the most uncertain)."
    )


def run_escalate(ctx: StepContext, config: EscalateStepConfig) -> FiguresOutput:
    from .escalate import certify_judge

    task = ctx.progress.add_step(f"{ctx.step_name}: certify {config.judge}", total=1)
    result = certify_judge(
        ctx.engine,
        judge=config.judge,
        target=config.target,
        delta=config.delta,
        constitution=config.constitution,
        principle=config.principle,
        calibration_id=calibration_id_for(ctx, config.calibration),
    )
    ctx.progress.advance(task)
    to_push = result.escalate_pair_ids[: config.limit] if config.limit else result.escalate_pair_ids
    pushed = None
    if config.push_dataset and to_push:
        from ..feedback.argilla.push import push_pairs

        pushed = push_pairs(
            ctx.engine, pair_ids=to_push, dataset=config.push_dataset, workspace=config.workspace
        ).to_dict()
    figures = {**result.to_dict(), "escalate_pair_ids": to_push, "pushed": pushed}
    threshold = result.certificate.threshold
    return FiguresOutput(
        kind="escalate",
        pairs=to_push,
        figures=figures,
        counts={"kept": len(result.kept_pair_ids), "escalated": len(result.escalate_pair_ids)},
        brief={
            "threshold": "none certified" if threshold is None else round(threshold, 3),
            "coverage": f"{result.coverage:.1%}",
        },
    )


register_step("calibrate", CalibrateStepConfig, run_calibrate)
register_step("escalate", EscalateStepConfig, run_escalate)
