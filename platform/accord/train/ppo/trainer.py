"""accord's PPO trainer (InstructGPT recipe) on torch, transformers and accelerate.

One step: sample responses to a batch of snapshot prompts → score each at its last token with
the frozen reward model → token rewards ``−β·(log π − log π_ref)`` (k1, the one estimator that
is correct in the reward) plus the score at the end → values from the value model → GAE,
advantage whitening → ``ppo_epochs`` passes of clipped policy and value losses over shuffled
minibatches → update β (adaptive KL) from the KL averaged over all ranks. The KL recorded as
``kl/measured`` is exact (from the policy's and reference's logits, never negative), beside the
sampled ``kl/k1``. All loss maths is ``accord.train.losses`` (the code the bandit checks run).

Why: trl ≥ 1.13 has no PPO trainer; RLHF with a learned reward model still needs one, with the
KL to the reference under control and every step's instruments recorded.

Run it (one process: CPU or one GPU; several GPUs: one process per device, the main process
records the run; ``zero3.yaml`` for models that do not fit one GPU)::

    accord train ppo --snapshot helpful-v1 --reward-model 12 --target-kl 6
    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        --num_processes 8 -m accord.cli.main \\
        train ppo --snapshot helpful-v1 --reward-model 12 --target-kl 6 --bf16

Departures from trl's former ``PPOTrainer`` (≤ 1.12), the reference here: β can be adaptive
(Ziegler et al.'s controller, ``target_kl``; trl kept it fixed); rollouts may come from an
in-process vLLM engine refreshed from the policy; log-probs are computed on the response
positions only (``logits_to_keep``, logit − logsumexp); the options are ``PPOTrainConfig``
(``accord.train.ppo.config``; ``rollout_batch_size`` and ``mini_batch_size`` instead of trl's
batch-count names); the win-rate against the reference is measured on held-out prompts, by the
reward model or an AI judge.

>>> from accord.train.ppo import PPOTrainConfig, train_ppo                     # doctest: +SKIP
>>> config = PPOTrainConfig(snapshot="helpful-v1", reward_model="12")       # doctest: +SKIP
>>> config.target_kl = 6.0                                                     # doctest: +SKIP
>>> r = train_ppo(config)                                                     # doctest: +SKIP
>>> r.metrics["win_rate_vs_ref"]                                               # doctest: +SKIP
0.62
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch

from accord.train.common import TrainResult, finish, model_dtype, training_run
from accord.train.data import training_prompts
from accord.train.instruments import (
    current_memory_mb,
    peak_memory_mb,
    reward_hacking_warnings,
    rollout_instruments,
    win_rate,
)
from accord.train.judged_win_rate import AIWinRateJudge
from accord.train.kl_controller import make_kl_controller, update_across_ranks
from accord.train.losses import (
    exact_kl,
    gae_advantages,
    kl_penalized_rewards,
    masked_mean,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)
from accord.train.reward_read import RewardReader

from .config import PPOTrainConfig
from .distributed import (
    configure_deepspeed,
    generation_policy,
    generation_reference,
    grad_free,
    prepare_frozen,
    save_trained,
    setup_name,
    wrappers,
)
from .forward import (  # noqa: F401  (response_logits: also used by policy evaluation)
    PolicyAndValue,
    chunks,
    policy_and_value,
    response_logits,
    rollout_scores,
    token_logprobs,
)
from .rollout import SamplingSettings, TransformersRollout, VLLMRollout, decode_responses


def _load(config: PPOTrainConfig, engine):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from accord.models.loading import resolve_model_path
    from accord.train.scoring import resolve_reward_model

    dtype = model_dtype(config)
    policy_path = resolve_model_path(config.model)
    ref_path = resolve_model_path(config.ref_model or config.model)
    reward_path = resolve_reward_model(config.reward_model, engine=engine)
    value_path = (
        resolve_reward_model(config.value_model, engine=engine)
        if config.value_model
        else reward_path
    )
    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    if tokenizer.pad_token_id is None:
        raise ValueError(f"the tokenizer of {config.model} has no pad token; set one before PPO")
    policy = AutoModelForCausalLM.from_pretrained(policy_path, dtype=dtype)
    ref = AutoModelForCausalLM.from_pretrained(ref_path, dtype=dtype).eval().requires_grad_(False)
    reward = (
        AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1, dtype=dtype)
        .eval()
        .requires_grad_(False)
    )
    value = AutoModelForSequenceClassification.from_pretrained(
        value_path, num_labels=1, dtype=dtype
    )
    for model in (policy, value):
        for module in model.modules():  # dropout would make old and new log-probs disagree
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return tokenizer, policy, ref, reward, value, policy_path, reward_path


def make_optimizer(
    params: list[torch.nn.Parameter], lr: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with the fused kernel where torch has one for the device (CPU and CUDA): the
    per-parameter loop would allocate temporaries the size of the largest parameter (the
    embedding matrix, twice) at every step, and is slower."""
    fused = device.type in ("cpu", "cuda") and all(
        p.dtype in (torch.float32, torch.bfloat16, torch.float16) for p in params
    )
    return torch.optim.AdamW(params, lr=lr, eps=1e-5, fused=fused or None)


def rollout_pass(trained, reference, batch, temperature: float, *, chunk_size: int):
    """Gradient-free pass over a rollout batch, ``chunk_size`` rows at a time: the policy's
    log-probs, values and entropies, the reference's log-probs, and the exact per-token
    KL(π ‖ π_ref) from the two models' logits (each chunk's logits are used, then freed)."""
    columns: list[list[torch.Tensor]] = [[], [], [], [], []]
    for part in chunks(batch, chunk_size):
        logprobs, values, entropy, logits = policy_and_value(
            trained, part, temperature, with_entropy=True, with_logits=True
        )
        ref_logits = response_logits(reference, part, temperature)
        parts = (
            logprobs,
            values,
            entropy,
            token_logprobs(ref_logits, part.response_ids),
            exact_kl(logits, ref_logits),
        )
        for column, value in zip(columns, parts, strict=True):
            column.append(value)
        del logits, ref_logits
    return tuple(torch.cat(column) for column in columns)


def train_ppo(config: PPOTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import AutoTokenizer

    from accord.store.db import open_store

    engine = engine or open_store(config.db_url)
    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    configure_deepspeed(
        accelerator, micro_batch_size=config.mini_batch_size, max_grad_norm=config.max_grad_norm
    )
    set_seed(config.seed)
    ai_settings = config.ai_judge_settings()
    with training_run(
        config,
        kind="ppo",
        ref_model=config.ref_model or config.model,
        engine=engine,
        snapshot=snapshot,
    ) as ctx:
        tokenizer, policy, ref, reward, value, policy_path, reward_path = _load(config, engine)
        judge_name = ai_settings.describe() if ai_settings else f"rm:{reward_path}"
        ctx.recorder.update(
            metrics={"reward_model_path": reward_path, "win_rate_judge": judge_name}
        )
        if config.gradient_checkpointing:
            policy.gradient_checkpointing_enable()
        trained = PolicyAndValue(policy, value)
        del policy, value  # only the combined module holds them from here on
        optimizer = make_optimizer(
            [p for p in trained.parameters() if p.requires_grad],
            config.learning_rate,
            accelerator.device,
        )
        trained, optimizer = accelerator.prepare(trained, optimizer)
        ref, reward = prepare_frozen(accelerator, ref), prepare_frozen(accelerator, reward)
        ref_module, reward_module = getattr(ref, "module", ref), getattr(reward, "module", reward)
        reader = RewardReader(
            reward_module,
            AutoTokenizer.from_pretrained(reward_path),
            batch_size=config.mini_batch_size,
        )
        memory_after_load = current_memory_mb()
        ctx.recorder.update(
            metrics={
                "distributed": setup_name(accelerator),
                "num_processes": accelerator.num_processes,
                "model_wrappers": wrappers(trained=trained, reference=ref, reward=reward),
            }
        )

        sampling = SamplingSettings(
            config.max_new_tokens, config.temperature, config.top_k, config.top_p
        )
        if config.rollout_engine == "vllm":
            rollout = VLLMRollout(
                policy_path, tokenizer, sampling, config.max_prompt_length, seed=config.seed
            )
        else:
            rollout = TransformersRollout(tokenizer, sampling, config.max_prompt_length)
        kl_ctl = make_kl_controller(
            config.kl_coef, target=config.target_kl, horizon=config.kl_horizon
        )
        chunk = config.mini_batch_size

        prompts = training_prompts(ctx.snapshot.train_rows)
        prompts = prompts[accelerator.process_index :: accelerator.num_processes] or prompts
        eval_prompts = (
            training_prompts(ctx.snapshot.test_rows)[: config.eval_prompts]
            or prompts[: config.eval_prompts]
        )
        rng = random.Random(config.seed + accelerator.process_index)
        order: list[str] = []
        ai_judge = AIWinRateJudge(ai_settings) if ai_settings else None

        def next_prompts() -> list:
            nonlocal order
            out = []
            while len(out) < config.rollout_batch_size:
                if not order:
                    order = prompts[:]
                    rng.shuffle(order)
                out.append(order.pop())
            return out

        def evaluate_win_rate() -> dict[str, float]:
            reference_rollout = TransformersRollout(tokenizer, sampling, config.max_prompt_length)
            with generation_policy(trained, accelerator) as policy_now:
                ours = rollout.generate(policy_now, eval_prompts)
            with generation_reference(ref, accelerator) as reference:
                theirs = reference_rollout.generate(reference, eval_prompts)
            if ai_judge is None:
                with grad_free(accelerator):
                    return {
                        "win_rate": win_rate(
                            rollout_scores(reader, tokenizer, eval_prompts, ours),
                            rollout_scores(reader, tokenizer, eval_prompts, theirs),
                        )
                    }
            judged = ai_judge(
                eval_prompts, decode_responses(tokenizer, ours), decode_responses(tokenizer, theirs)
            )
            return {"win_rate": judged.win_rate, **judged.metrics()}

        for step in range(1, config.max_steps + 1):
            started = time.perf_counter()
            step_prompts = next_prompts()
            with generation_policy(trained, accelerator) as policy_now:
                batch = rollout.generate(policy_now, step_prompts)
            rollout_seconds = time.perf_counter() - started
            mask = batch.response_mask
            with grad_free(accelerator):
                logprobs, old_values, entropy, ref_logprobs, token_kl = rollout_pass(
                    trained, ref_module, batch, config.temperature, chunk_size=chunk
                )
                scores = rollout_scores(reader, tokenizer, step_prompts, batch)
            with torch.no_grad():
                old_values = old_values * mask
                if config.missing_eos_penalty is not None:
                    scores = scores - config.missing_eos_penalty * (~batch.contains_eos).float()
                token_rewards, kl = kl_penalized_rewards(
                    scores,
                    logprobs,
                    ref_logprobs,
                    mask,
                    kl_coef=kl_ctl.value,
                    estimator=config.kl_estimator,
                )
                if config.whiten_rewards:
                    token_rewards = whiten(token_rewards, mask, shift_mean=False) * mask
                advantages, returns = gae_advantages(
                    token_rewards, old_values, mask, gamma=config.gamma, lam=config.lam
                )
                advantages = whiten(advantages, mask) * mask
            stats = rollout_instruments(
                scores=scores,
                logprobs=logprobs,
                ref_logprobs=ref_logprobs,
                exact_kl=token_kl,
                mask=mask,
                entropy=entropy,
                kl_coef=kl_ctl.value,
                contains_eos=batch.contains_eos,
            )
            stats["kl/penalty_mean"] = (kl.sum(1)).mean().item()
            stats["prompts/truncated"] = batch.truncated_prompts
            stats["value/mean"] = masked_mean(old_values, mask).item()
            # only what the optimisation epochs read stays alive through them
            del ref_logprobs, entropy, scores, token_rewards, kl, token_kl

            epoch_stats: dict[str, list[float]] = {}
            n = config.rollout_batch_size
            for _ in range(config.ppo_epochs):
                permutation = torch.randperm(n, device=mask.device)
                for start in range(0, n, config.mini_batch_size):
                    idx = permutation[start : start + config.mini_batch_size]
                    mb_mask = mask[idx]
                    new_logprobs, new_values = policy_and_value(
                        trained, batch.select(idx), config.temperature
                    )
                    pg_loss, pg_stats = ppo_policy_loss(
                        new_logprobs,
                        logprobs[idx],
                        advantages[idx],
                        mb_mask,
                        cliprange=config.cliprange,
                    )
                    vf_loss, vf_stats = ppo_value_loss(
                        new_values,
                        old_values[idx],
                        returns[idx],
                        mb_mask,
                        cliprange_value=config.cliprange_value,
                    )
                    loss = pg_loss + config.vf_coef * vf_loss
                    accelerator.backward(loss)
                    if config.max_grad_norm and accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(trained.parameters(), config.max_grad_norm)
                    optimizer.step()
                    # gradients freed now, not before the next backward: they never coexist with
                    # the next minibatch's activations
                    optimizer.zero_grad(set_to_none=True)
                    for key, v in (
                        ("loss/policy", pg_loss),
                        ("loss/value", vf_loss),
                        ("policy/clipfrac", pg_stats["clipfrac"]),
                        ("policy/approxkl", pg_stats["approxkl"]),
                        ("value/clipfrac", vf_stats["vf_clipfrac"]),
                        ("policy/ratio", pg_stats["ratio"]),
                    ):
                        epoch_stats.setdefault(key, []).append(float(v.detach()))
                    del loss, pg_loss, vf_loss, new_logprobs, new_values, pg_stats, vf_stats
            del batch, logprobs, old_values, advantages, returns, mask
            stats.update({k: sum(v) / len(v) for k, v in epoch_stats.items()})
            # every rank updates β from the same all-ranks mean KL, so all ranks keep the same β
            update_across_ranks(
                kl_ctl, stats["kl/measured"], config.rollout_batch_size, device=accelerator.device
            )
            stats["kl/coef_next"] = kl_ctl.value
            stats["time/step_seconds"] = time.perf_counter() - started
            stats["time/rollout_seconds"] = rollout_seconds
            if config.eval_every and step % config.eval_every == 0:
                stats["eval/win_rate_vs_ref"] = evaluate_win_rate()["win_rate"]
            stats["memory/peak_mb"] = peak_memory_mb()
            stats = {
                k: accelerator.reduce(
                    torch.tensor(float(v), device=accelerator.device), "mean"
                ).item()
                if accelerator.num_processes > 1
                else v
                for k, v in stats.items()
            }
            stats["step"] = step
            ctx.history.append(stats)
            if accelerator.is_main_process:
                ctx.recorder.log(step, stats)

        final = evaluate_win_rate()
        if ai_judge is not None:
            ai_judge.close()
        warnings = reward_hacking_warnings(ctx.history, target_kl=config.target_kl)
        last = ctx.history[-1]
        metrics: dict[str, Any] = {
            "win_rate_vs_ref": final.pop("win_rate"),
            "win_rate_judge": judge_name,
            **final,  # the AI judge's position consistency and judged / failed counts
            "final_reward": last["reward/mean"],
            "final_kl": last["kl/measured"],
            "final_kl_k1": last["kl/k1"],
            "final_kl_coef": kl_ctl.value,
            "rollout_engine": rollout.name,
            "mean_step_seconds": sum(h["time/step_seconds"] for h in ctx.history)
            / len(ctx.history),
            "memory_after_load_mb": memory_after_load,
            "peak_memory_mb": peak_memory_mb(),
            "distributed": setup_name(accelerator),
            "num_processes": accelerator.num_processes,
            "model_wrappers": wrappers(trained=trained, reference=ref, reward=reward),
        }
        if config.save_model:
            save_trained(accelerator, trained, tokenizer, ctx.output_dir)
        return finish(ctx, metrics, warnings)
