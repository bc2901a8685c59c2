"""accord's PPO trainer (InstructGPT recipe) on torch, transformers and accelerate.

One step: sample responses to a batch of snapshot prompts → score each at its last token with
the frozen reward model → token rewards ``−β·(log π − log π_ref)`` plus the score at the end →
values from the value model → GAE, advantage whitening → ``ppo_epochs`` passes of clipped
policy and value losses over shuffled minibatches → update β (adaptive KL). All loss maths is
``accord.train.losses`` (the code the tabular bandit check runs).

>>> from accord.train.ppo import PPOTrainConfig, train_ppo                     # doctest: +SKIP
>>> r = train_ppo(PPOTrainConfig(snapshot="helpful-v1", reward_model="12", target_kl=6.0))  # doctest: +SKIP
>>> r.metrics["win_rate_vs_ref"]                                               # doctest: +SKIP
0.62
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch

from accord.train.common import TrainResult, finish, model_dtype, training_run
from accord.train.instruments import reward_hacking_warnings, rollout_instruments, win_rate
from accord.train.kl_controller import make_kl_controller
from accord.train.losses import (
    entropy_from_logits,
    gae_advantages,
    gather_logprobs,
    kl_penalized_rewards,
    masked_mean,
    ppo_policy_loss,
    ppo_value_loss,
    whiten,
)

from .config import PPOTrainConfig
from .rollout import RolloutBatch, SamplingSettings, TransformersRollout, VLLMRollout


def position_ids_for(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding (generate does the same while sampling)."""
    return (attention_mask.cumsum(1) - attention_mask).clamp(min=0)


def response_logits(model, batch: RolloutBatch, temperature: float) -> torch.Tensor:
    """Logits predicting each response token, divided by the sampling temperature."""
    mask = batch.attention_mask
    out = model(input_ids=batch.input_ids, attention_mask=mask, position_ids=position_ids_for(mask), use_cache=False)
    q = batch.query_ids.size(1)
    return out.logits[:, q - 1:-1].float() / temperature


def token_scalars(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The scalar head of a sequence-classification model at every position: (B, T)."""
    backbone = getattr(model, model.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=position_ids_for(attention_mask), use_cache=False).last_hidden_state
    return model.score(hidden).squeeze(-1).float()


def response_values(value_model, batch: RolloutBatch) -> torch.Tensor:
    q = batch.query_ids.size(1)
    return token_scalars(value_model, batch.input_ids, batch.attention_mask)[:, q - 1:-1]


@torch.no_grad()
def end_scores(reward_model, batch: RolloutBatch) -> torch.Tensor:
    """Reward-model score at each response's last token (its EOS when it has one)."""
    values = token_scalars(reward_model, batch.input_ids, batch.attention_mask)
    last = batch.query_ids.size(1) + batch.lengths - 1
    return values[torch.arange(values.size(0), device=values.device), last]


def _load(config: PPOTrainConfig, engine):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from accord.models.loading import resolve_model_path
    from accord.train.scoring import resolve_reward_model

    dtype = model_dtype(config)
    policy_path = resolve_model_path(config.model)
    ref_path = resolve_model_path(config.ref_model or config.model)
    reward_path = resolve_reward_model(config.reward_model, engine=engine)
    value_path = resolve_reward_model(config.value_model, engine=engine) if config.value_model else reward_path
    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    if tokenizer.pad_token_id is None:
        raise ValueError(f"the tokenizer of {config.model} has no pad token; set one before PPO")
    policy = AutoModelForCausalLM.from_pretrained(policy_path, dtype=dtype)
    ref = AutoModelForCausalLM.from_pretrained(ref_path, dtype=dtype).eval().requires_grad_(False)
    reward = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1, dtype=dtype).eval().requires_grad_(False)
    value = AutoModelForSequenceClassification.from_pretrained(value_path, num_labels=1, dtype=dtype)
    for model in (policy, value):
        for module in model.modules():  # dropout would make old and new log-probs disagree
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return tokenizer, policy, ref, reward, value, policy_path, reward_path


def train_ppo(config: PPOTrainConfig, *, engine=None, snapshot=None) -> TrainResult:
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from accord.store.db import open_store

    engine = engine or open_store(config.db_url)
    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    set_seed(config.seed)
    with training_run(config, kind="ppo", ref_model=config.ref_model or config.model, engine=engine, snapshot=snapshot) as ctx:
        tokenizer, policy, ref, reward, value, policy_path, reward_path = _load(config, engine)
        ctx.recorder.update(metrics={"reward_model_path": reward_path})
        params = [p for p in [*policy.parameters(), *value.parameters()] if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, eps=1e-5)
        policy, value, optimizer = accelerator.prepare(policy, value, optimizer)
        ref.to(accelerator.device)
        reward.to(accelerator.device)
        if config.gradient_checkpointing:
            accelerator.unwrap_model(policy).gradient_checkpointing_enable()

        sampling = SamplingSettings(config.max_new_tokens, config.temperature, config.top_k, config.top_p)
        if config.rollout_engine == "vllm":
            rollout = VLLMRollout(policy_path, tokenizer, sampling, config.max_prompt_length, seed=config.seed)
        else:
            rollout = TransformersRollout(tokenizer, sampling, config.max_prompt_length)
        kl_ctl = make_kl_controller(config.kl_coef, target=config.target_kl, horizon=config.kl_horizon)

        prompts = sorted({r["prompt"] for r in ctx.snapshot.train_rows})
        prompts = prompts[accelerator.process_index::accelerator.num_processes] or prompts
        eval_prompts = sorted({r["prompt"] for r in ctx.snapshot.test_rows})[:config.eval_prompts] or prompts[:config.eval_prompts]
        rng = random.Random(config.seed + accelerator.process_index)
        order: list[str] = []

        def next_prompts() -> list[str]:
            nonlocal order
            out = []
            while len(out) < config.rollout_batch_size:
                if not order:
                    order = prompts[:]
                    rng.shuffle(order)
                out.append(order.pop())
            return out

        def evaluate_win_rate() -> float:
            unwrapped = accelerator.unwrap_model(policy)
            reference_rollout = TransformersRollout(tokenizer, sampling, config.max_prompt_length)
            ours = rollout.generate(unwrapped, eval_prompts)
            theirs = reference_rollout.generate(ref, eval_prompts)
            return win_rate(end_scores(reward, ours), end_scores(reward, theirs))

        for step in range(1, config.max_steps + 1):
            started = time.perf_counter()
            unwrapped = accelerator.unwrap_model(policy)
            batch = rollout.generate(unwrapped, next_prompts())
            rollout_seconds = time.perf_counter() - started
            mask = batch.response_mask
            with torch.no_grad():
                logits = response_logits(policy, batch, config.temperature)
                logprobs = gather_logprobs(logits, batch.response_ids)
                entropy = entropy_from_logits(logits)
                del logits
                ref_logprobs = gather_logprobs(response_logits(ref, batch, config.temperature), batch.response_ids)
                old_values = response_values(value, batch) * mask
                scores = end_scores(reward, batch)
                if config.missing_eos_penalty is not None:
                    scores = scores - config.missing_eos_penalty * (~batch.contains_eos).float()
                token_rewards, kl = kl_penalized_rewards(scores, logprobs, ref_logprobs, mask,
                                                         kl_coef=kl_ctl.value, estimator=config.kl_estimator)
                if config.whiten_rewards:
                    token_rewards = whiten(token_rewards, mask, shift_mean=False) * mask
                advantages, returns = gae_advantages(token_rewards, old_values, mask, gamma=config.gamma, lam=config.lam)
                advantages = whiten(advantages, mask) * mask
            stats = rollout_instruments(scores=scores, logprobs=logprobs, ref_logprobs=ref_logprobs, mask=mask,
                                        entropy=entropy, kl_coef=kl_ctl.value, contains_eos=batch.contains_eos)
            stats["kl/penalty_mean"] = (kl.sum(1)).mean().item()

            epoch_stats: dict[str, list[float]] = {}
            n = config.rollout_batch_size
            for _ in range(config.ppo_epochs):
                permutation = torch.randperm(n, device=mask.device)
                for start in range(0, n, config.mini_batch_size):
                    idx = permutation[start:start + config.mini_batch_size]
                    mb = batch.select(idx)
                    mb_mask = mask[idx]
                    new_logprobs = gather_logprobs(response_logits(policy, mb, config.temperature), mb.response_ids)
                    pg_loss, pg_stats = ppo_policy_loss(new_logprobs, logprobs[idx], advantages[idx], mb_mask,
                                                        cliprange=config.cliprange)
                    new_values = response_values(value, mb)
                    vf_loss, vf_stats = ppo_value_loss(new_values, old_values[idx], returns[idx], mb_mask,
                                                       cliprange_value=config.cliprange_value)
                    loss = pg_loss + config.vf_coef * vf_loss
                    optimizer.zero_grad()
                    accelerator.backward(loss)
                    if config.max_grad_norm:
                        accelerator.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    for key, v in (("loss/policy", pg_loss), ("loss/value", vf_loss), ("policy/clipfrac", pg_stats["clipfrac"]),
                                   ("policy/approxkl", pg_stats["approxkl"]), ("value/clipfrac", vf_stats["vf_clipfrac"]),
                                   ("policy/ratio", pg_stats["ratio"])):
                        epoch_stats.setdefault(key, []).append(float(v.detach()))
            stats.update({k: sum(v) / len(v) for k, v in epoch_stats.items()})
            stats["value/mean"] = masked_mean(old_values, mask).item()
            kl_ctl.update(stats["kl/measured"], config.rollout_batch_size * accelerator.num_processes)
            stats["kl/coef_next"] = kl_ctl.value
            stats["time/step_seconds"] = time.perf_counter() - started
            stats["time/rollout_seconds"] = rollout_seconds
            if config.eval_every and step % config.eval_every == 0:
                stats["eval/win_rate_vs_ref"] = evaluate_win_rate()
            stats = {k: accelerator.reduce(torch.tensor(v, device=accelerator.device), "mean").item()
                     if accelerator.num_processes > 1 else v for k, v in stats.items()}
            stats["step"] = step
            ctx.history.append(stats)
            if accelerator.is_main_process:
                ctx.recorder.log(step, stats)

        final_win_rate = evaluate_win_rate()
        warnings = reward_hacking_warnings(ctx.history, target_kl=config.target_kl)
        last = ctx.history[-1]
        metrics: dict[str, Any] = {
            "win_rate_vs_ref": final_win_rate, "final_reward": last["reward/mean"], "final_kl": last["kl/measured"],
            "final_kl_coef": kl_ctl.value, "rollout_engine": rollout.name,
            "mean_step_seconds": sum(h["time/step_seconds"] for h in ctx.history) / len(ctx.history),
        }
        if config.save_model and accelerator.is_main_process:
            accelerator.unwrap_model(policy).save_pretrained(str(ctx.output_dir))
            tokenizer.save_pretrained(str(ctx.output_dir))
            accelerator.unwrap_model(value).save_pretrained(str(ctx.output_dir / "value_model"))
        return finish(ctx, metrics, warnings)
