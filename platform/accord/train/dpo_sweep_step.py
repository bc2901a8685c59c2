"""The ``train_dpo`` recipe step: a β sweep from one snapshot, each policy evaluated on held-out
prompts (KL to the reference, win-rate by a reward model and/or the AI judge) and printed as one
win-rate-vs-KL table. Runs that finished before are reused, and so are their evaluations (the
evaluation key is stored on the run).

Why: choosing β is the one decision every DPO run makes; a sweep with the same evaluation for
every value shows the trade-off in one place (the step's fields: ``DPOStepFields`` in
``accord.train.recipe_steps``).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ..jobs.context import StepContext
from ..workflows.outputs import FiguresOutput, console_for, recipe_name
from .recipe_steps import (
    DPOStepFields,
    library_bars_off,
    model_path_for,
    snapshot_for,
    train_or_reuse,
    train_step_output,
)


def _heldout_prompts(ctx: StepContext, snapshot: str, n: int) -> list[str]:
    from .data import load_snapshot

    data = load_snapshot(snapshot, engine=ctx.engine)
    prompts = sorted({r["prompt"] for r in data.test_rows if isinstance(r["prompt"], str)})
    return (
        prompts or sorted({r["prompt"] for r in data.train_rows if isinstance(r["prompt"], str)})
    )[:n]


def _evaluate(
    ctx: StepContext,
    step: DPOStepFields,
    record: dict[str, Any],
    reference: str,
    judge: str | None,
    prompts: list[str],
    ai_judge=None,
) -> dict[str, Any]:
    """KL / win-rate of one DPO policy, stored on its run; skipped when already measured."""
    from ..workflows.policy_eval import evaluate_policy, evaluation_key
    from .runs import RunRecorder

    seed = ctx.seed if step.seed is None else step.seed
    key = evaluation_key(
        policy=record["artifact_path"],
        reference=reference,
        reward_model=judge,
        prompts=prompts,
        max_new_tokens=step.eval_max_new_tokens,
        temperature=step.eval_temperature,
        seed=seed,
        ai_judge=ai_judge.key() if ai_judge else None,
    )
    if record["metrics"].get("eval_key") == key:
        return record
    with library_bars_off():
        figures = evaluate_policy(
            record["artifact_path"],
            reference,
            prompts,
            reward_model=judge,
            max_new_tokens=step.eval_max_new_tokens,
            temperature=step.eval_temperature,
            seed=seed,
            ai_judge=ai_judge,
        )
    figures["eval_key"] = key
    RunRecorder(engine=ctx.engine, run_id=record["run_id"]).update(metrics=figures)
    record["metrics"].update(figures)
    return record


def _fmt(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"


def sweep_table(records: list[dict[str, Any]], judged: bool) -> Table:
    table = Table(
        title="DPO: win-rate vs KL to the reference per β (held-out prompts)", title_justify="left"
    )
    for column in (
        "β",
        "run",
        "",
        "KL (nats)",
        "win-rate vs ref",
        "held-out reward acc",
        "train loss",
    ):
        table.add_column(column, justify="left" if column in ("run", "") else "right")
    for r in records:
        m = r["metrics"]
        table.add_row(
            r["label"],
            str(r["run_id"]),
            "reused" if r["reused"] else "trained",
            _fmt(m.get("kl_to_ref")),
            _fmt(m.get("win_rate_vs_ref")) if judged else "— (no judge)",
            _fmt(m.get("heldout_reward_accuracy")),
            _fmt(m.get("train_loss")),
        )
    return table


def run_train_dpo(ctx: StepContext, step: DPOStepFields) -> FiguresOutput:
    snapshot, digest = snapshot_for(ctx, step.snapshot)
    base = model_path_for(ctx, step.base_model)
    reference = model_path_for(ctx, step.ref_model, "ref_model") if step.ref_model else base
    judge = (
        model_path_for(ctx, step.eval_reward_model, "eval_reward_model")
        if step.eval_reward_model
        else None
    )
    ai_judge = (
        step.eval_ai_judge.settings(model_path_for(ctx, step.eval_ai_judge.model))
        if step.eval_ai_judge
        else None
    )
    betas = step.betas()
    run_name = f"{recipe_name(ctx)}/{ctx.step_name}"
    task = ctx.progress.add_step(
        f"{ctx.step_name}: train dpo ({len(betas)} β)",
        total=len(betas) * (2 if step.evaluate else 1),
    )
    prompts = _heldout_prompts(ctx, snapshot, step.eval_prompts) if step.evaluate else []
    records = []
    for beta in betas:
        kwargs = step.build_kwargs(
            snapshot=snapshot,
            model=base,
            seed=ctx.seed,
            beta=beta,
            run_name=run_name if len(betas) == 1 else f"{run_name}/beta={beta:g}",
            **({"ref_model": reference} if step.ref_model else {}),
        )
        records.append(train_or_reuse(ctx, step, kwargs, digest, label=f"{beta:g}"))
        ctx.progress.advance(task)
        if step.evaluate:
            ctx.check_cancel()
            _evaluate(ctx, step, records[-1], reference, judge, prompts, ai_judge)
            ctx.progress.advance(task)
    if step.evaluate:
        console_for(ctx).print(
            sweep_table(records, judged=judge is not None or ai_judge is not None)
        )
    sweep = [
        {
            "beta": float(r["label"]),
            "run_id": r["run_id"],
            "kl_to_ref": r["metrics"].get("kl_to_ref"),
            "win_rate_vs_ref": r["metrics"].get("win_rate_vs_ref"),
            "heldout_reward_accuracy": r["metrics"].get("heldout_reward_accuracy"),
        }
        for r in records
    ]
    judges = [j for j in (judge, ai_judge.describe() if ai_judge else None) if j]
    return train_step_output(
        records,
        "dpo",
        snapshot=snapshot,
        snapshot_hash=digest,
        sweep=sweep,
        judge=" + ".join(judges),
    )
