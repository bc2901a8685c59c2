"""The ``loop`` recipe step: rounds of sample → pair → AI-label → snapshot → DPO → evaluate,
with early stopping, the round table, and the rounds recorded on the job as they finish.

The last round's policy is the step's model (``{from_step: NAME}`` in a later step). The job's
result keeps every round's record (``accord loop show RECIPE``, ``accord jobs show``), and each
round's DPO run keeps its round and evaluation in its metrics.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session, select

from ...jobs.context import StepContext
from ...store.crud.jobs import get_job
from ...store.db import session_scope
from ...store.models import Prompt
from ..outputs import FiguresOutput, console_for, recipe_name
from .config import LoopConfig
from .rounds import LoopState, run_round
from .table import round_table


def split_prompts(
    ctx: StepContext, prompt_ids: list[int], n_eval: int
) -> tuple[list[int], list[str]]:
    """(training prompt ids, held-out prompt texts): the held-out ones are the ``n_eval`` with
    the smallest content hash, so the split depends on the prompts only."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(Prompt.id, Prompt.content_hash, Prompt.text).where(Prompt.id.in_(prompt_ids))
        ).all()
    ranked = sorted(rows, key=lambda r: hashlib.sha256(r[1].encode()).hexdigest())
    if len(ranked) <= n_eval:
        raise ValueError(
            f"step {ctx.step_name!r}: eval_prompts: {n_eval} held-out prompts leave "
            f"none of the {len(ranked)} input prompts to train on"
        )
    held = {r[0] for r in ranked[:n_eval]}
    return [p for p in prompt_ids if p not in held], [r[2] for r in ranked[:n_eval]]


def _calibration(ctx: StepContext, config: LoopConfig, judge_model: str):
    if config.calibration_id is None:
        return None
    from ...audit.calibrate import calibration_map
    from ...store.crud.calibrations import get_calibration

    with Session(ctx.engine) as session:
        row = get_calibration(session, calibration_id=config.calibration_id)
    if row is None:
        raise ValueError(
            f"step {ctx.step_name!r}: calibration_id: no calibration {config.calibration_id}"
        )
    if row.judge != judge_model:
        raise ValueError(
            f"step {ctx.step_name!r}: calibration_id: calibration {row.id} is for judge "
            f"{row.judge!r}, not this loop's judge {judge_model!r}"
        )
    return calibration_map(row).apply


def _reward_model(ctx: StepContext, config: LoopConfig) -> str | None:
    """The folder or id of the held-out reward model (``eval_reward_model``), if any."""
    ref = config.eval_reward_model
    if ref is None:
        return None
    from ...models.loading import resolve_model_path
    from ...train.recipe_steps import model_path_for

    if isinstance(ref, str) and ref in ctx.models:
        return resolve_model_path(ctx.models[ref].model)
    return resolve_model_path(model_path_for(ctx, ref, "eval_reward_model"))


def stop_reason(config: LoopConfig, record: dict[str, Any]) -> str | None:
    """Why the loop stops after this round (None: go on)."""
    previous = record.get("vs_previous") or {}
    low = previous.get("low")
    if config.stop_when_no_gain and low is not None and low <= 0.5:
        return (
            f"win-rate over round {record['round'] - 1} not above 0.5 by the "
            f"{config.confidence:.0%} CI (low end {low:.3f})"
        )
    kl = record.get("kl_exact")
    kl = record.get("kl_to_ref") if kl is None else kl
    if config.kl_budget is not None and kl is not None and kl > config.kl_budget:
        return f"KL to the reference {kl:.3f} over the budget {config.kl_budget:g}"
    return None


def _record_on_job(ctx: StepContext, step: str, rounds: list[dict[str, Any]]) -> None:
    """The rounds so far on the job row, so a killed loop still shows its finished rounds."""
    with session_scope(ctx.engine) as session:
        job = get_job(session, job_id=ctx.job_id)
        result = dict(job.result or {})
        result["loop"] = {**result.get("loop", {}), step: {"rounds": rounds}}
        job.result = result
        session.add(job)


def run_loop(ctx: StepContext, config: LoopConfig) -> FiguresOutput:
    from ...train.judged_win_rate import AIJudgeSettings, AIWinRateJudge

    step = ctx.step_name
    prompt_ids = ctx.input_ids("prompts", config.input)
    if not prompt_ids:
        raise ValueError(f"step {step!r}: no prompts (add an import_prompts step before it)")
    train_prompts, eval_prompts = split_prompts(ctx, prompt_ids, config.eval_prompts)
    policy = ctx.model_ref(config.policy, "policy")
    judge_ref = ctx.model_ref(config.judge, "judge")
    state = LoopState(
        recipe=recipe_name(ctx),
        step=step,
        policy=policy,
        judge_ref=judge_ref,
        train_prompts=train_prompts,
        eval_prompts=eval_prompts,
        policies=[policy.model],
        calibrate=_calibration(ctx, config, judge_ref.model),
        reward_model=_reward_model(ctx, config),
    )
    settings = AIJudgeSettings(
        model=judge_ref.model,
        backend=judge_ref.backend,
        options=dict(judge_ref.options),
        constitution=config.constitution,
        principles=config.principles,
        batch_size=config.judge_batch_size,
        base_dir=ctx.base_dir,
    )
    judge = AIWinRateJudge(settings, backend=ctx.backend(config.judge))
    task = ctx.progress.add_step(f"{step}: {config.rounds} rounds", total=config.rounds)
    rounds: list[dict[str, Any]] = []
    stopped = None
    own = {k for k in ctx.outputs}
    try:
        for k in range(1, config.rounds + 1):
            ctx.check_cancel()
            rounds.append(run_round(ctx, config, state, k, judge))
            stopped = stop_reason(config, rounds[-1])
            rounds[-1]["stop"] = stopped
            _record_on_job(ctx, step, rounds)
            ctx.progress.advance(task)
            if stopped:
                ctx.progress.note(f"{step}: stopped after round {k}: {stopped}")
                break
    finally:
        for name in [n for n in ctx.outputs if n not in own]:  # the rounds' own sub-steps
            del ctx.outputs[name]
    console_for(ctx).print(round_table(rounds, title=f"{state.recipe} / {step}: rounds"))
    last = rounds[-1]
    table = [{k: v for k, v in r.items() if not k.endswith("_ids")} for r in rounds]
    return FiguresOutput(
        kind="loop",
        responses=[i for r in rounds for i in r["response_ids"]],
        pairs=[i for r in rounds for i in r["pair_ids"]],
        counts={"rounds": len(rounds), "trained": sum(r["trained"] for r in rounds)},
        figures={"rounds": rounds, "stopped": stopped, "policy": last["policy"]},
        brief={"rounds": table, "stopped": stopped, "policy": last["policy"]},
        model=last["policy"],
    )
