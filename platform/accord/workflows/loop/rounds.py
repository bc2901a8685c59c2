"""One round of the loop, made of the recipe engine's own steps: ``generate`` (K samples per
prompt from the current policy), ``make_pairs``, ``judge``, West-of-N selection, a snapshot
``…-round-k``, ``train_dpo`` (content-addressed run reuse) and the round's evaluation.

Every piece is idempotent: generation and judging go through the content-addressed cache and
write rows keyed by content; the snapshot is the same snapshot for the same content; a finished
DPO run with the same snapshot hash and config is reused; the evaluation is stored on the run
under a key of everything that decides it. A round killed at any point therefore resumes where
it stopped, and a finished round costs cache look-ups only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import Session, select

from ...hashing import content_hash
from ...jobs.context import ModelRef, StepContext, StepOutput
from ...store.models import Judgment, Pair
from .config import LoopConfig
from .evaluation import (
    PolicySamples,
    compare,
    judged_probabilities,
    reward_preferences,
    sample_policy,
    sample_rewards,
)
from .west_of_n import best_vs_worst


@dataclass
class LoopState:
    """What the rounds share: the prompts, the policies so far, the judge, the held-out samples."""

    recipe: str
    step: str
    policy: ModelRef  # round 0's policy (backend and options kept for every round)
    judge_ref: ModelRef
    train_prompts: list[int]
    eval_prompts: list[str]
    policies: list[str] = field(default_factory=list)  # folder of round k's policy at index k
    samples: dict[str, PolicySamples] = field(default_factory=dict)  # by policy folder
    calibrate: Any = None
    reward_model: str | None = None  # folder of the held-out reward model (eval_reward_model)
    rewards: dict[str, list[list[float]]] = field(default_factory=dict)  # by policy folder
    reader: Any = None  # the loaded held-out reward model (RewardReader)

    @property
    def initial(self) -> str:
        return self.policies[0]


def _sub(ctx: StepContext, state: LoopState, k: int, kind: str) -> str:
    return f"{state.step}/round-{k}/{kind}"


def _run_sub(ctx: StepContext, name: str, run, config) -> StepOutput:
    """Run an existing step's function as part of the loop, under ``name``."""
    outer = ctx.step_name
    ctx.step_name = name
    try:
        out = run(ctx, config)
    finally:
        ctx.step_name = outer
    ctx.outputs[name] = out
    return out


def _aggregates(
    ctx: StepContext, judgment_ids: list[int]
) -> list[tuple[int, int, int, int, float]]:
    """(pair, prompt, response a, response b, P(a)) of the judge's aggregate labels."""
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(
                Judgment.pair_id,
                Judgment.prob_a,
                Pair.prompt_id,
                Pair.response_a_id,
                Pair.response_b_id,
            )
            .join(Pair, Pair.id == Judgment.pair_id)
            .where(Judgment.id.in_(judgment_ids), Judgment.is_aggregate == True)  # noqa: E712
        ).all()
    return sorted((pid, prompt, a, b, prob) for pid, prob, prompt, a, b in rows if prob is not None)


def sample_round_data(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int
) -> dict[str, Any]:
    """Steps (1)–(3) and West-of-N: rows of round k, sampled from the policy of round k−1."""
    from ...rlaif.generate import GenerateConfig, run_generate
    from ...rlaif.judge import JudgeConfig, run_judge
    from ...rlaif.pairs import MakePairsConfig, run_make_pairs

    prompts_name = f"{state.step}/train-prompts"
    ctx.outputs[prompts_name] = StepOutput(prompts=list(state.train_prompts))
    policy = {
        "backend": state.policy.backend,
        "model": state.policies[k - 1],
        "options": dict(state.policy.options),
    }
    gen = _run_sub(
        ctx,
        _sub(ctx, state, k, "generate"),
        run_generate,
        GenerateConfig(
            kind="generate",
            input=prompts_name,
            model=policy,
            n=config.samples,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            batch_size=config.batch_size,
            seed=ctx.seed + 1000 * k,
        ),
    )
    if state.policies[k - 1] != state.judge_ref.model:
        ctx.backend(policy).close()  # unloads it (rebuilt on use): one policy in memory at a time
    pairs = _run_sub(
        ctx,
        _sub(ctx, state, k, "pairs"),
        run_make_pairs,
        MakePairsConfig(kind="make_pairs", input=_sub(ctx, state, k, "generate")),
    )
    judged = _run_sub(
        ctx,
        _sub(ctx, state, k, "judge"),
        run_judge,
        JudgeConfig(
            kind="judge",
            input=_sub(ctx, state, k, "pairs"),
            model=config.judge,
            constitution=config.constitution,
            principles=config.principles,
            batch_size=config.judge_batch_size,
        ),
    )
    labels = _aggregates(ctx, judged.judgments)
    if state.calibrate is not None:  # West-of-N and escalation read calibrated probabilities
        probs = state.calibrate([p for *_, p in labels])
        labels = [(*row[:4], float(p)) for row, p in zip(labels, probs)]
    if config.pairs == "west_of_n":
        kept = best_vs_worst(labels)
    else:
        kept = sorted({row[0] for row in labels})
    return {
        "responses": gen.responses,
        "pairs": pairs.pairs,
        "judged_pairs": judged.pairs,
        "judgments": judged.judgments,
        "kept_pairs": kept,
        "labels": labels,
    }


def _frozen(ctx: StepContext, name: str):
    """The snapshot ``name`` when it exists already (None: not yet)."""
    from ...store.models import Snapshot

    with Session(ctx.engine, expire_on_commit=False) as session:
        return session.exec(select(Snapshot).where(Snapshot.name == name)).first()


def escalate(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Step (4): the round's uncertain kept pairs to humans in Argilla; wait or go on
    (``accord.workflows.loop.escalation``). Nothing is pushed once the snapshot is frozen."""
    from .escalation import escalate_round

    frozen = _frozen(ctx, config.snapshot_name(recipe=state.recipe, step=state.step, round_=k))
    dataset = config.escalate.dataset_name(recipe=state.recipe, step=state.step, round_=k)
    return escalate_round(
        ctx,
        config,
        dataset=dataset,
        labels=data["labels"],  # calibrated when the loop has a calibration
        kept=data["kept_pairs"],
        judgment_ids=data["judgments"],
        frozen=frozen is not None,
    )


def freeze_snapshot(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int, pair_ids: list[int]
):
    """Step (5): the round's labelled pairs as snapshot ``…-round-k`` (same content, same one)."""
    from ...snapshots.build import create_snapshot

    name = config.snapshot_name(recipe=state.recipe, step=state.step, round_=k)
    if config.escalate is not None:  # human labels that came later do not change a frozen round
        existing = _frozen(ctx, name)
        if existing is not None:
            return existing
    return create_snapshot(
        ctx.engine,
        name=name,
        policy=config.snapshot_policy,
        test_fraction=0.0,
        seed=ctx.seed,
        pair_ids=pair_ids,
    )


def train_round(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int, snapshot
) -> tuple[dict, str]:
    """Step (6): DPO from round k−1's policy; the reference fixed at round 0 or refreshed."""
    from ...train.recipe_steps import train_or_reuse

    base = state.policies[k - 1]
    reference = state.initial if config.reference == "initial" else base
    step = config.dpo_step(base_model=base)
    kwargs = step.build_kwargs(
        snapshot=snapshot.name,
        model=base,
        seed=ctx.seed,
        beta=config.beta,
        run_name=f"{state.recipe}/{state.step}/round-{k}",
        **({"ref_model": reference} if reference != base else {}),
    )
    record = train_or_reuse(ctx, step, kwargs, snapshot.content_hash, label=f"round-{k}")
    return record, reference


def _samples(
    config: LoopConfig,
    state: LoopState,
    path: str,
    *,
    ctx: StepContext,
    reference: str | None = None,
) -> PolicySamples:
    key = path if reference is None else f"{path}|{reference}"
    if reference is None:  # any earlier sampling of this policy has the same texts (same seeds)
        key = next((k for k in state.samples if k.split("|")[0] == path), key)
    if key not in state.samples:
        from ...train.recipe_steps import library_bars_off

        with library_bars_off():
            state.samples[key] = sample_policy(
                path,
                state.eval_prompts,
                samples=config.eval_samples,
                max_new_tokens=config.eval_max_tokens or config.max_tokens,
                temperature=config.temperature,
                seed=ctx.seed + 7919,
                reference_path=reference,
                backend=config.sampling_backend(state.policy.backend),
                backend_options=dict(state.policy.options),
            )
    return state.samples[key]


def evaluation_key(config: LoopConfig, state: LoopState, k: int, reference: str, seed: int) -> str:
    """Identity of round k's evaluation: the four models, the prompts, the settings, the judge."""
    from ...train.ref_cache import model_fingerprint

    models = [
        model_fingerprint(p)
        for p in (state.policies[k], state.initial, state.policies[k - 1], reference)
    ]
    settings = {
        f: getattr(config, f)
        for f in (
            "eval_samples",
            "eval_max_tokens",
            "max_tokens",
            "temperature",
            "constitution",
            "principles",
            "calibration_id",
            "confidence",
            "resamples",
        )
    }
    settings["sampling"] = config.sampling_backend(state.policy.backend)
    if state.reward_model:
        settings["reward_model"] = model_fingerprint(state.reward_model)
    return content_hash(
        "loop-eval",
        2,
        models,
        state.eval_prompts,
        settings,
        seed,
        {"judge": [state.judge_ref.backend, model_fingerprint(state.judge_ref.model)]},
    )


def _rewards(state: LoopState, path: str, samples: PolicySamples) -> list[list[float]]:
    """The held-out reward model's scores of a policy's held-out samples (once per policy)."""
    if path not in state.rewards:
        if state.reader is None:
            from ...train.reward_read import RewardReader
            from ...train.rm import load_reward_model

            state.reader = RewardReader(*load_reward_model(state.reward_model))
            state.reader.model.eval()
        state.rewards[path] = sample_rewards(state.reader, state.eval_prompts, samples)
    return state.rewards[path]


def evaluate_round(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int, reference: str, judge
) -> dict[str, Any]:
    """Step (7): win-rates vs round 0 and vs round k−1 by the AI judge (and the held-out reward
    model) with CIs and length-controlled, mean length, KL to the reference (sampled, exact)."""
    current = _samples(config, state, state.policies[k], ctx=ctx, reference=reference)
    initial = _samples(config, state, state.initial, ctx=ctx)
    out: dict[str, Any] = {
        "length": current.mean_length,
        "kl_to_ref": current.kl_to_ref,
        "kl_exact": current.kl_exact,
        "initial_length": initial.mean_length,
        "eval_backend": current.backend,
    }
    settings = {"resamples": config.resamples, "confidence": config.confidence, "seed": ctx.seed}
    if state.reward_model:
        mine = _rewards(state, state.policies[k], current)
        out["reward"] = float(np.nanmean([x for row in mine for x in row]))
        out["initial_reward"] = float(
            np.nanmean([x for row in _rewards(state, state.initial, initial) for x in row])
        )
    opponents = {"vs_initial": state.initial, "vs_previous": state.policies[k - 1]}
    for label, opponent in opponents.items():
        if label == "vs_previous" and k == 1:
            out[label] = out["vs_initial"]
            if state.reward_model:
                out["rm_vs_previous"] = out["rm_vs_initial"]
            continue
        theirs = _samples(config, state, opponent, ctx=ctx)
        per_prompt, extra = judged_probabilities(
            judge, state.eval_prompts, current, theirs, calibrate=state.calibrate
        )
        out[label] = {**compare(per_prompt, current, theirs, **settings), **extra}
        if state.reward_model:
            prefs = reward_preferences(
                _rewards(state, state.policies[k], current), _rewards(state, opponent, theirs)
            )
            out[f"rm_{label}"] = {
                **compare(prefs, current, theirs, **settings),
                "reward_model": state.reward_model,
            }
    return out


def run_round(
    ctx: StepContext, config: LoopConfig, state: LoopState, k: int, judge
) -> dict[str, Any]:
    """Round k from the policy of round k−1; its record (also stored on its DPO run)."""
    from ...train.runs import RunRecorder

    started, cpu_started = time.perf_counter(), time.process_time()
    data = sample_round_data(ctx, config, state, k)
    if not data["kept_pairs"]:
        raise ValueError(
            f"step {state.step!r}: round {k}: no judged pair to train on (every "
            "judgment failed, or every sample of a prompt was the same text)"
        )
    ctx.check_cancel()
    escalation = escalate(ctx, config, state, k, data) if config.escalate else None
    ctx.check_cancel()
    snapshot = freeze_snapshot(ctx, config, state, k, data["kept_pairs"])
    ctx.check_cancel()
    run, reference = train_round(ctx, config, state, k, snapshot)
    state.policies.append(run["artifact_path"])
    key = evaluation_key(config, state, k, reference, ctx.seed)
    metrics = run["metrics"]
    if metrics.get("loop_eval_key") == key:
        evaluation = metrics["loop_eval"]
    else:
        ctx.check_cancel()
        evaluation = evaluate_round(ctx, config, state, k, reference, judge)
        RunRecorder(engine=ctx.engine, run_id=run["run_id"]).update(
            metrics={"loop_eval": evaluation, "loop_eval_key": key}
        )
    record = {
        "round": k,
        "policy_from": state.policies[k - 1],
        "policy": run["artifact_path"],
        "reference": reference,
        "snapshot": snapshot.name,
        "snapshot_hash": snapshot.content_hash,
        "run_id": run["run_id"],
        "trained": not run["reused"],
        "responses": len(data["responses"]),
        "pairs": len(data["pairs"]),
        "judged_pairs": len(data["judged_pairs"]),
        "train_pairs": len(data["kept_pairs"]),
        "pair_ids": data["kept_pairs"],
        "response_ids": data["responses"],
        "judgment_ids": data["judgments"],
        "train_loss": metrics.get("train_loss"),
        **({"escalation": escalation} if escalation is not None else {}),
        **evaluation,
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
    }
    RunRecorder(engine=ctx.engine, run_id=run["run_id"]).update(
        metrics={"loop": {"recipe": state.recipe, "step": state.step, "round": k}}
    )
    return record
