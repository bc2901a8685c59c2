"""RLOO and GRPO on a snapshot's prompts through trl, with a frozen reward model as the reward.

Both sample ``num_generations`` completions per prompt and use the group as the baseline
(RLOO: leave-one-out mean; GRPO: group-normalised advantages), so no value model is needed;
``beta`` is the KL coefficient to the reference (trl adds it to the loss when > 0).

The reward is ``accord.train.reward_read.RewardReader`` handed to trl as a reward function, so
completions are scored exactly as PPO scores its rollouts (same rendering, BOS/EOS and pooled
position as RM training). Conversational snapshots (prompts as messages) are generated from with
the policy's chat template, by trl.

Why: on-policy RL against a reward model without PPO's value model, with the trl
implementations as they are.

Run it (one process: CPU or one GPU; several GPUs: one process per device, the main process
records the run; ``zero3.yaml`` for models that do not fit one GPU)::

    accord train grpo --snapshot helpful-v1 --reward-model 12 --num-generations 4
    accelerate launch --config_file platform/accord/train/accelerate_configs/ddp.yaml \\
        --num_processes 8 -m accord.cli.main \\
        train grpo --snapshot helpful-v1 --reward-model 12 --num-generations 4 --bf16

Departures from trl's ``scripts/rloo.py`` / ``grpo.py``: the prompts are the snapshot's
(train split, de-duplicated) and the reward function is one frozen sequence-classification
reward model (an ``accord train rm`` run, a folder or a model id); vLLM generation
(``--vllm``) is trl's colocate mode; the options are ``OnlineRLConfig``
(``accord.train.online_config``); the CLI defaults to 10 steps and groups of 2.

>>> from accord.train.online import OnlineRLConfig, train_online     # doctest: +SKIP
>>> config = OnlineRLConfig(snapshot="helpful-v1", reward_model="12")  # doctest: +SKIP
>>> train_online(config, algorithm="grpo")                           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .common import (
    TrainResult,
    finish,
    model_dtype,
    quiet,
    recorder_callback,
    training_run,
    trl_arguments,
)
from .online_config import ALGORITHMS, OnlineRLConfig


def train_online(
    config: OnlineRLConfig, *, algorithm: str, engine=None, snapshot=None
) -> TrainResult:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from accord.models.loading import resolve_model_path

    from .data import training_prompts
    from .reward_read import RewardReader
    from .rm import load_reward_model
    from .scoring import resolve_reward_model

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    if algorithm == "rloo":
        from trl import RLOOConfig as TrlConfig
        from trl import RLOOTrainer as TrlTrainer
    else:
        from trl import GRPOConfig as TrlConfig
        from trl import GRPOTrainer as TrlTrainer
    with training_run(
        config, kind=algorithm, ref_model=config.model, engine=engine, snapshot=snapshot
    ) as ctx:
        reward_path = resolve_reward_model(config.reward_model, engine=engine)
        reward_model, reward_tokenizer = load_reward_model(reward_path, dtype=model_dtype(config))
        reward_model.eval().requires_grad_(False)
        prompts = training_prompts(ctx.snapshot.train_rows)
        path = resolve_model_path(config.model)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=model_dtype(config))
        # trl stops sampling at the tokenizer's EOS and the generation config's: both end an answer
        stops = model.generation_config.eos_token_id
        stops = [tokenizer.eos_token_id, *([stops] if isinstance(stops, int) else stops or [])]
        reward = RewardReader(reward_model, reward_tokenizer).as_reward_function(stops)
        trl_args = trl_arguments(config, ctx.output_dir)
        args = TrlConfig(
            **trl_args,
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            beta=config.beta,
            temperature=config.temperature,
            use_vllm=config.use_vllm,
            vllm_mode="colocate",
        )
        trainer = TrlTrainer(
            model=model,
            reward_funcs=reward,
            args=args,
            train_dataset=datasets.Dataset.from_dict({"prompt": prompts}),
            processing_class=tokenizer,
            callbacks=[recorder_callback(ctx.recorder, ctx.history)],
        )
        reward_model.to(trainer.accelerator.device)
        quiet(trainer)
        output = trainer.train()
        rewards = [h["reward"] for h in ctx.history if "reward" in h]
        metrics: dict[str, Any] = {
            "train_loss": output.training_loss,
            "reward_model_path": reward_path,
            "final_reward": rewards[-1] if rewards else None,
        }
        if config.save_model:
            trainer.save_model(str(ctx.output_dir))
        return finish(ctx, metrics)
