"""``accord train``: train on a snapshot (sft, rm, dpo, ppo, rloo, grpo); every run is recorded.

The commands only parse options into the trainer's ``*Config`` and call ``train_*``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import DbOption, JsonOption, console, fail, print_json

app = typer.Typer(help="Train on a curated snapshot; runs are recorded in the store.", no_args_is_help=True)

Snapshot = Annotated[str, typer.Option("--snapshot", "-s", help="Snapshot name in the store, or a `--format trl` export folder.")]
Model = Annotated[str, typer.Option("--model", help="Starting model id or folder (accord/tiny works offline).")]
MaxSteps = Annotated[int, typer.Option("--max-steps", help="Optimizer (or PPO) steps.")]
LearningRate = Annotated[float | None, typer.Option("--learning-rate", "--lr", help="Peak learning rate (default: the trainer's).")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Per-device batch size (PPO: prompts per rollout).")]
OutputDir = Annotated[str | None, typer.Option("--output-dir", "-o", help="Artifact folder (default: <home>/runs/<kind>-<id>).")]
RunName = Annotated[str, typer.Option("--run-name", help="Name of the run in the store.")]
Bf16 = Annotated[bool, typer.Option("--bf16/--no-bf16", help="bfloat16 mixed precision (GPU).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
RewardModel = Annotated[str, typer.Option("--reward-model", help="Reward model: an rm run id/name, a folder or a model id.")]


def _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db) -> dict[str, Any]:
    values = dict(snapshot=snapshot, model=model, max_steps=max_steps, per_device_train_batch_size=batch_size,
                  output_dir=output_dir, run_name=run_name, bf16=bf16, seed=seed, db_url=db)
    if learning_rate is not None:
        values["learning_rate"] = learning_rate
    return values


def _run(make_config, train, json_out: bool, **train_kwargs) -> None:
    try:
        config = make_config()
    except (TypeError, ValueError) as e:
        fail(f"bad option: {e}", code=2)
    with console.status(f"training ({type(config).__name__}) …", spinner="dots"):
        try:
            result = train(config, **train_kwargs)
        except (ValueError, LookupError, FileNotFoundError) as e:
            fail(str(e))
    out = {"run_id": result.run_id, "output_dir": str(result.output_dir), "metrics": result.metrics,
           "warnings": result.warnings}
    if json_out:
        print_json(out)
        return
    if result.run_id is None:  # a non-main process of a distributed launch
        console.print("done (this process's figures; the main process records the run)")
        return
    console.print(f"[bold green]run {result.run_id}[/] done → {result.output_dir}")
    for k, v in result.metrics.items():
        console.print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
def sft(snapshot: Snapshot, model: Model = "accord/tiny", max_steps: MaxSteps = 20, learning_rate: LearningRate = None,
        batch_size: BatchSize = 4, output_dir: OutputDir = None, run_name: RunName = "", bf16: Bf16 = False,
        seed: Seed = 0, target: Annotated[str, typer.Option(help="chosen or revisions.")] = "chosen",
        db: DbOption = None, json_out: JsonOption = False) -> None:
    """Supervised fine-tuning on chosen responses (or critique-revise revisions)."""
    from ..train.sft import SFTTrainConfig, train_sft

    common = _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db)
    _run(lambda: SFTTrainConfig(**common, target=target), train_sft, json_out)


@app.command()
def rm(snapshot: Snapshot, model: Model = "accord/tiny", max_steps: MaxSteps = 20, learning_rate: LearningRate = None,
       batch_size: BatchSize = 4, output_dir: OutputDir = None, run_name: RunName = "", bf16: Bf16 = False,
       seed: Seed = 0, margin: Annotated[bool, typer.Option("--margin/--no-margin", help="Margin = logit(score) from soft labels.")] = True,
       db: DbOption = None, json_out: JsonOption = False) -> None:
    """Bradley–Terry reward model; held-out accuracy and calibration stored on the run."""
    from ..train.rm import RewardTrainConfig, train_rm

    common = _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db)
    _run(lambda: RewardTrainConfig(**common, margin_from_score=margin), train_rm, json_out)


@app.command()
def dpo(snapshot: Snapshot, model: Model = "accord/tiny", max_steps: MaxSteps = 20, learning_rate: LearningRate = None,
        batch_size: BatchSize = 4, output_dir: OutputDir = None, run_name: RunName = "", bf16: Bf16 = False,
        seed: Seed = 0, beta: Annotated[float, typer.Option(help="KL strength β.")] = 0.1,
        loss_type: Annotated[str, typer.Option("--loss-type", help="trl loss type(s), comma-separated (RPO: sigmoid,sft).")] = "sigmoid",
        soft_labels: Annotated[bool, typer.Option("--soft-labels/--hard-labels", help="Use the snapshot's scores as soft labels.")] = True,
        ref_model: Annotated[str | None, typer.Option("--ref-model", help="Reference model (default: --model).")] = None,
        ref_cache: Annotated[bool, typer.Option("--ref-cache/--no-ref-cache", help="Reuse cached reference log-probs.")] = True,
        label_smoothing: Annotated[float, typer.Option(help="ε for robust / exo_pair.")] = 0.0,
        db: DbOption = None, json_out: JsonOption = False) -> None:
    """DPO (trl loss types, β) with soft labels and cached reference log-probs."""
    from ..train.dpo import DPOTrainConfig, train_dpo

    common = _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db)
    _run(lambda: DPOTrainConfig(**common, beta=beta, loss_type=loss_type, soft_labels=soft_labels, ref_model=ref_model,
                                cache_ref_logps=ref_cache, label_smoothing=label_smoothing), train_dpo, json_out)


@app.command()
def ppo(snapshot: Snapshot, reward_model: RewardModel = "accord/tiny-reward", model: Model = "accord/tiny",
        max_steps: MaxSteps = 10, learning_rate: LearningRate = None, batch_size: BatchSize = 8,
        output_dir: OutputDir = None, run_name: RunName = "", bf16: Bf16 = False, seed: Seed = 0,
        beta: Annotated[float, typer.Option("--beta", "--kl-coef", help="Initial KL coefficient.")] = 0.05,
        target_kl: Annotated[float | None, typer.Option(help="Adaptive KL target in nats (omit for a fixed β).")] = None,
        mini_batch_size: Annotated[int, typer.Option(help="Rollouts per gradient step.")] = 4,
        ppo_epochs: Annotated[int, typer.Option(help="Epochs per rollout batch.")] = 4,
        max_new_tokens: Annotated[int, typer.Option(help="Longest sampled response.")] = 24,
        rollout_engine: Annotated[str, typer.Option(help="transformers or vllm.")] = "transformers",
        eval_every: Annotated[int, typer.Option(help="Win-rate vs the reference every N steps (0: only at the end).")] = 0,
        eval_prompts: Annotated[int, typer.Option(help="Held-out prompts for the win-rate.")] = 16,
        win_rate_judge: Annotated[str, typer.Option(help="Who judges the win-rate: rm (reward model) or ai (RLAIF pairwise judge).")] = "rm",
        judge_backend: Annotated[str, typer.Option(help="AI judge backend: transformers, openai or vllm.")] = "transformers",
        judge_model: Annotated[str | None, typer.Option(help="AI judge model id or folder (accord/tiny offline).")] = None,
        judge_constitution: Annotated[str, typer.Option(help="Constitution the AI judge asks (bundled name or YAML path).")] = "helpfulness-honesty",
        judge_principles: Annotated[str | None, typer.Option(help="Principle ids to ensemble over, comma-separated (default: all).")] = None,
        judge_base_url: Annotated[str | None, typer.Option(help="Server URL for --judge-backend openai.")] = None,
        db: DbOption = None, json_out: JsonOption = False) -> None:
    """PPO with a per-token KL penalty to the reference, value model + GAE, adaptive KL."""
    from ..train.ppo import PPOTrainConfig, train_ppo

    common = _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db)
    common["rollout_batch_size"] = common.pop("per_device_train_batch_size")
    principles = [p.strip() for p in judge_principles.split(",") if p.strip()] if judge_principles else None
    _run(lambda: PPOTrainConfig(**common, reward_model=reward_model, kl_coef=beta, target_kl=target_kl,
                                mini_batch_size=mini_batch_size, ppo_epochs=ppo_epochs, max_new_tokens=max_new_tokens,
                                rollout_engine=rollout_engine, eval_every=eval_every, eval_prompts=eval_prompts,
                                win_rate_judge=win_rate_judge, judge_backend=judge_backend, judge_model=judge_model,
                                judge_constitution=judge_constitution, judge_principles=principles,
                                judge_base_url=judge_base_url), train_ppo, json_out)


def _online(algorithm: str):
    def command(snapshot: Snapshot, reward_model: RewardModel = "accord/tiny-reward", model: Model = "accord/tiny",
                max_steps: MaxSteps = 10, learning_rate: LearningRate = None, batch_size: BatchSize = 4,
                output_dir: OutputDir = None, run_name: RunName = "", bf16: Bf16 = False, seed: Seed = 0,
                beta: Annotated[float, typer.Option(help="KL coefficient to the reference.")] = 0.05,
                num_generations: Annotated[int, typer.Option(help="Completions per prompt (the group).")] = 2,
                max_completion_length: Annotated[int, typer.Option(help="Longest completion.")] = 24,
                use_vllm: Annotated[bool, typer.Option("--vllm/--no-vllm", help="Generate with vLLM.")] = False,
                db: DbOption = None, json_out: JsonOption = False) -> None:
        from ..train.online import OnlineRLConfig, train_online

        common = _common(snapshot, model, max_steps, learning_rate, batch_size, output_dir, run_name, bf16, seed, db)
        _run(lambda: OnlineRLConfig(**common, reward_model=reward_model, beta=beta, num_generations=num_generations,
                                    max_completion_length=max_completion_length, use_vllm=use_vllm),
             train_online, json_out, algorithm=algorithm)

    command.__doc__ = f"{algorithm.upper()} through trl with the reward model as reward function."
    return command


app.command("rloo")(_online("rloo"))
app.command("grpo")(_online("grpo"))
