"""Recipe steps that train on a snapshot: one ``train_<name>`` step per registered trainer
(``accord.train.trainers``): ``train_sft``, ``train_rm``, ``train_dpo`` (with a β sweep),
``train_ppo``, ``train_rloo``, ``train_grpo`` (imported by ``accord.jobs.registry``).

Each step's fields are generated from the trainer's ``*Config``: every config field is a step
field with the same name, default and help (``options`` still takes any of them, as before);
the step itself sets ``snapshot``, ``model`` (``base_model``), ``per_device_train_batch_size``
(``batch_size``), ``seed`` (the recipe's) and the run name. It builds the config and calls
the trainer with the recipe's store. Training
is content-addressed: a completed run with the same kind, snapshot hash and config is reused,
not trained again (``accord.workflows.run_reuse``). Models can be named by an earlier training
step (``base_model: sft``, ``reward_model: rm``), a run id, a folder or a model id.

``train_sft`` with ``demonstrations: auto`` trains on the store's human demonstrations when it
has some (``accord.train.sft_step``), else on the snapshot's chosen responses, and says which.

``train_dpo`` with a list of β trains one run per β; they share one reference log-prob cache
(keyed by snapshot and reference model, not β). Each policy is then measured against its
reference on held-out prompts — KL and, with ``eval_reward_model``, the win-rate — and a table
of win-rate vs KL per β is printed.

    steps:
      - {kind: snapshot, policy: human-over-ai}
      - {kind: train_rm, max_steps: 20}
      - {kind: train_dpo, beta: [0.01, 0.1, 0.5], eval_reward_model: train_rm}
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from sqlmodel import Session

from ..jobs.context import StepContext
from ..jobs.model_refs import from_step_of, produced_model
from ..jobs.registry import StepConfig, is_registered, register_step
from ..store.models import TrainingRun
from ..workflows.outputs import FiguresOutput, recipe_name, step_output
from ..workflows.run_reuse import find_finished_run, run_record

# A model: an earlier training step's name, a run id, a folder, a model id or {from_step: NAME}.
ModelName = str | dict[str, Any]
MODEL_FIELDS = ("base_model", "ref_model", "reward_model", "eval_reward_model")

# Trainer config fields a step sets itself (they cannot also be given under ``options``).
MANAGED = (
    "snapshot",
    "model",
    "max_steps",
    "learning_rate",
    "per_device_train_batch_size",
    "max_length",
    "seed",
    "bf16",
    "run_name",
    "db_url",
    "output_dir",
)


class TrainStepConfig(StepConfig):
    """Fields every training step has; ``train_step_model`` adds one per field of the trainer's
    config (its default and help text) that the step does not declare itself."""

    trainer: ClassVar[str] = ""  # name in accord.train.trainers
    generated: ClassVar[tuple[str, ...]] = ()  # config fields added as step fields
    produces_model: ClassVar[bool] = True

    snapshot: str | None = Field(
        default=None,
        description="Snapshot step, snapshot name or trl "
        "export folder (default: the nearest earlier snapshot step).",
    )
    base_model: ModelName = Field(
        default="accord/tiny",
        description="Model to start from: an "
        "earlier training step's name, {from_step: NAME}, a run id, a "
        "folder or a model id.",
    )
    max_steps: int = Field(default=20, ge=1, description="Optimizer (PPO: rollout) steps.")
    learning_rate: float | None = Field(
        default=None, gt=0, description="Peak learning rate (default: the trainer's)."
    )
    batch_size: int = Field(default=4, ge=1, description="Examples per device per micro-batch.")
    max_length: int | None = Field(default=512, ge=8, description="Longest tokenised sequence.")
    seed: int | None = Field(default=None, description="Seed (default: the recipe's).")
    bf16: bool = Field(default=False, description="bfloat16 mixed precision (GPUs).")
    reuse: bool = Field(
        default=True,
        description="Reuse a finished run with the same snapshot "
        "hash and config instead of training again.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other field of the "
        "trainer's config (see `accord train <kind> --help`); "
        "the same as giving it as a step field.",
    )

    def specific(self) -> dict[str, Any]:
        """Config keyword arguments from the fields this step class declares itself."""
        return {}

    def config_kwargs(self) -> dict[str, Any]:
        """The generated fields (those ``options`` does not set) and the declared ones."""
        values = {n: getattr(self, n) for n in self.generated if n not in self.options}
        return {**values, **self.specific()}

    def trainer_spec(self):
        from .trainers import get_trainer

        return get_trainer(self.trainer)

    def config_class(self):
        return self.trainer_spec().config_class()

    @model_validator(mode="after")
    def _check_options(self) -> TrainStepConfig:
        for name in MODEL_FIELDS:
            value = getattr(self, name, None)
            if isinstance(value, dict) and (
                set(value) != {"from_step"}
                or not value["from_step"]
                or not isinstance(value["from_step"], str)
            ):
                raise ValueError(
                    f"{name}: a mapping here must be {{from_step: NAME}} (the model an "
                    "earlier step produced); give other models by name, id or folder"
                )
        given = {n for n in self.generated if n in self.model_fields_set}
        clash = sorted(set(self.options) & (set(MANAGED) | set(self.specific()) | given))
        if clash:
            raise ValueError(
                f"options: {', '.join(clash)} must be given as step fields, not options"
            )
        cls = self.config_class()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise ValueError(f"options: {cls.__name__} has no field {', '.join(unknown)}")
        # The trainer's own validation, now, so nothing runs on a bad recipe.
        placeholders = {
            n: "-"
            for n in ("ref_model", "reward_model")
            if from_step_of(getattr(self, n, None)) is not None
        }
        model = "-" if from_step_of(self.base_model) is not None else self.base_model
        cls(**self.build_kwargs(snapshot="-", model=model, run_name="", **placeholders))
        return self

    def build_kwargs(
        self, *, snapshot: str, model: str, run_name: str, seed: int = 0, **resolved: Any
    ) -> dict[str, Any]:
        kwargs = dict(
            snapshot=snapshot,
            model=model,
            max_steps=self.max_steps,
            per_device_train_batch_size=self.batch_size,
            max_length=self.max_length,
            seed=seed if self.seed is None else self.seed,
            bf16=self.bf16,
            run_name=run_name,
            **self.config_kwargs(),
            **self.options,
        )
        if self.learning_rate is not None:
            kwargs["learning_rate"] = self.learning_rate
        kwargs.update(resolved)
        return kwargs


def _step_field(option) -> tuple[Any, Any]:
    if option.default is dataclasses.MISSING:
        return option.type, Field(description=option.help)
    if isinstance(option.default, list | dict):
        value = option.default
        return option.type, Field(
            default_factory=lambda: copy.deepcopy(value), description=option.help
        )
    return option.type, Field(default=option.default, description=option.help)


def train_step_model(trainer, base: type[TrainStepConfig] | None = None) -> type[TrainStepConfig]:
    """The recipe step model of ``trainer``: ``base`` plus one field per config field it lacks."""
    from .trainers import config_options

    base = base or TrainStepConfig
    fields = {
        o.name: _step_field(o)
        for o in config_options(trainer.config_class())
        if o.name not in MANAGED and o.name not in base.model_fields
    }
    generic = base is TrainStepConfig
    model = create_model(
        f"{trainer.name.upper()}StepConfig"
        if generic
        else base.__name__.replace("StepFields", "StepConfig"),
        __base__=base,
        __module__=__name__,
        __doc__=trainer.summary if generic else base.__doc__,
        **fields,
    )
    model.trainer = trainer.name
    model.generated = tuple(fields)
    return model


class _EvalAIJudgeBase(BaseModel):
    """The RLAIF pairwise AI judge deciding a DPO sweep's win-rate against the reference: the
    fields of ``AIJudgeSettings`` (``JudgeTask`` plus the judge's model), checked by it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _check(self) -> _EvalAIJudgeBase:
        self.settings(self.model)
        return self

    def settings(self, model_path: str):
        from .judged_win_rate import AIJudgeSettings

        return AIJudgeSettings(**{**self.model_dump(), "model": model_path})


def _eval_ai_judge_model() -> type[BaseModel]:
    from .judged_win_rate import AIJudgeSettings

    def one(f):
        help_ = f.metadata.get("help", "")
        if f.name == "model":
            return str, Field(
                description="Judge model: a model id, folder or earlier training step."
            )
        if f.default_factory is not dataclasses.MISSING:
            return f.type, Field(default_factory=f.default_factory, description=help_)
        return f.type, Field(default=f.default, description=help_)

    return create_model(
        "EvalAIJudge",
        __base__=_EvalAIJudgeBase,
        __module__=__name__,
        __doc__=_EvalAIJudgeBase.__doc__,
        **{
            f.name: one(f)
            for f in dataclasses.fields(AIJudgeSettings)
            if f.name not in ("base_dir", "options")
        },
    )


EvalAIJudge = _eval_ai_judge_model()


class DPOStepFields(TrainStepConfig):
    """DPO (soft labels, cached reference log-probs); a list of β is a sweep."""

    trainer: ClassVar[str] = "dpo"
    beta: float | list[float] = Field(default=0.1, description="β, or a list of β to sweep.")
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid"], description="trl loss types.")
    ref_model: ModelName | None = Field(
        default=None, description="Reference policy (default: base_model)."
    )
    evaluate: bool = Field(default=True, description="Measure KL (and win-rate) vs the reference.")
    eval_reward_model: ModelName | None = Field(
        default=None,
        description="Reward model judging the win-rate: a train_rm step, run id or folder.",
    )
    eval_ai_judge: EvalAIJudge | None = Field(
        default=None,
        description="RLAIF pairwise AI judge of the "
        "win-rate (beside or instead of eval_reward_model).",
    )
    eval_prompts: int = Field(default=16, ge=1, description="Held-out prompts evaluated.")
    eval_max_new_tokens: int = Field(default=24, ge=1, description="Longest sampled response.")
    eval_temperature: float = Field(default=1.0, gt=0, description="Sampling temperature.")

    @model_validator(mode="after")
    def _betas(self) -> DPOStepFields:
        if not self.betas() or any(b <= 0 for b in self.betas()):
            raise ValueError("beta must be a positive number or a non-empty list of them")
        return self

    def betas(self) -> list[float]:
        return [float(b) for b in (self.beta if isinstance(self.beta, list) else [self.beta])]

    def specific(self) -> dict[str, Any]:
        return {"loss_type": list(self.loss_type)}


class PPOStepFields(TrainStepConfig):
    """PPO with a per-token KL penalty to the reference, scored by a frozen reward model."""

    trainer: ClassVar[str] = "ppo"
    reward_model: ModelName = Field(description="Reward model: a train_rm step, run id or folder.")
    ref_model: ModelName | None = Field(
        default=None, description="Reference policy (default: base_model)."
    )
    kl_coef: float = Field(default=0.05, ge=0, description="Initial KL coefficient β.")
    target_kl: float | None = Field(
        default=None,
        gt=0,
        description="Adaptive KL target (nats per sequence); none keeps β fixed.",
    )
    max_steps: int = Field(default=10, ge=1, description="PPO steps (rollout batches).")

    def specific(self) -> dict[str, Any]:
        return {"kl_coef": self.kl_coef, "target_kl": self.target_kl}


class SFTStepFields(TrainStepConfig):
    """Supervised fine-tuning: on human demonstrations (``demonstrations: auto`` uses them
    where the store has some), else on a snapshot's chosen responses or revisions."""

    trainer: ClassVar[str] = "sft"
    demonstrations: Literal["never", "auto", "required"] = Field(
        default="never",
        description="never: train on the snapshot; auto: on the store's human demonstrations "
        "(frozen into a demonstrations snapshot) when it has any, else on the snapshot; "
        "required: on human demonstrations, failing when there are none.",
    )
    demonstration_source: str | None = Field(
        default=None,
        description="Only demonstrations from this source (e.g. argilla:demos-v1).",
    )

    @model_validator(mode="after")
    def _demonstrations_train_chosen(self) -> SFTStepFields:
        target = self.options.get("target", getattr(self, "target", "chosen"))
        if self.demonstrations == "required" and target != "chosen":
            raise ValueError(f"demonstrations: required trains on demonstrations, not {target}")
        return self


def _run_train_sft(ctx: StepContext, step: SFTStepFields) -> FiguresOutput:
    from .sft_step import run_train_sft  # which data (demonstrations or chosen) lives there

    return run_train_sft(ctx, step)


# -- references ------------------------------------------------------------------------------


def model_path_for(ctx: StepContext, ref: ModelName, field: str = "base_model") -> str:
    """A model named by an earlier training step, ``{from_step: NAME}``, a run id, a folder or
    a model id."""
    name = from_step_of(ref)
    if name is not None:
        return produced_model(ctx, field=field, name=name)
    out = step_output(ctx, ref, "train")
    if out is not None:
        runs = out.figures["runs"]
        if len(runs) != 1:
            raise ValueError(
                f"step {ctx.step_name!r}: step {ref!r} trained {len(runs)} runs (a sweep); "
                "name one run by its id instead"
            )
        return runs[0]["artifact_path"]
    if ref.isdigit():
        with Session(ctx.engine) as session:
            run = session.get(TrainingRun, int(ref))
        if run is None or run.status != "completed" or not run.artifact_path:
            raise ValueError(f"step {ctx.step_name!r}: run {ref} has no finished model")
        return run.artifact_path
    local = ctx.base_dir / ref
    return str(local) if not Path(ref).is_absolute() and local.is_dir() else ref


def snapshot_for(ctx: StepContext, ref: str | None) -> tuple[str, str]:
    """(snapshot name or export folder, content hash)."""
    from ..snapshots.build import get_snapshot
    from ..snapshots.recipe_steps import snapshot_name_for

    if ref is not None and step_output(ctx, ref, "snapshot") is None:
        folder = ctx.base_dir / ref if not Path(ref).is_absolute() else Path(ref)
        if (folder / "manifest.json").is_file():
            return str(folder), json.loads((folder / "manifest.json").read_text())["content_hash"]
    name = snapshot_name_for(ctx, ref)
    return name, get_snapshot(ctx.engine, name).content_hash


# -- running ---------------------------------------------------------------------------------


@contextlib.contextmanager
def library_bars_off():
    """Silence datasets' and transformers' tqdm bars while a step trains: the job's own rich
    bars already show progress, and interleaved tqdm lines garble them."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets_on, transformers_on = (
        datasets.is_progress_bar_enabled(),
        hf_logging.is_progress_bar_enabled(),
    )
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if transformers_on:
            hf_logging.enable_progress_bar()


def train_or_reuse(
    ctx: StepContext,
    step: TrainStepConfig,
    kwargs: dict[str, Any],
    snapshot_hash: str,
    label: str = "",
) -> dict[str, Any]:
    """Reuse the finished run with the same (snapshot hash, config), else train one."""
    trainer = step.trainer_spec()
    config = trainer.config_class()(**kwargs)
    kind = trainer.name
    if step.reuse:
        run = find_finished_run(
            ctx.engine, kind=kind, snapshot_hash=snapshot_hash, config=config.to_dict()
        )
        if run is not None:
            return run_record(run, reused=True, step=ctx.step_name, label=label)
    ctx.check_cancel()
    with library_bars_off():
        result = trainer.run(config, engine=ctx.engine)
    with Session(ctx.engine) as session:
        run = session.get(TrainingRun, result.run_id)
        return run_record(run, reused=False, step=ctx.step_name, label=label)


def train_step_output(runs: list[dict[str, Any]], kind: str, **figures: Any) -> FiguresOutput:
    one = runs[0]["artifact_path"] if len(runs) == 1 else None
    why = (
        ""
        if one
        else (
            f"it trained {len(runs)} runs (a sweep); name one run by its id instead"
            if len(runs) > 1
            else "its run saved no model"
        )
    )
    return FiguresOutput(
        kind="train",
        figures={"trainer": kind, "runs": runs, **figures},
        counts={"runs": len(runs), "reused": sum(r["reused"] for r in runs)},
        brief={"run_ids": ",".join(str(r["run_id"]) for r in runs)},
        model=one,
        no_model_reason=why,
    )


def run_train_step(ctx: StepContext, step: TrainStepConfig) -> FiguresOutput:
    snapshot, digest = snapshot_for(ctx, step.snapshot)
    resolved: dict[str, Any] = {}
    for name in ("ref_model", "reward_model"):
        if getattr(step, name, None):
            resolved[name] = model_path_for(ctx, getattr(step, name), name)
    kwargs = step.build_kwargs(
        snapshot=snapshot,
        model=model_path_for(ctx, step.base_model),
        run_name=f"{recipe_name(ctx)}/{ctx.step_name}",
        seed=ctx.seed,
        **resolved,
    )
    task = ctx.progress.add_step(f"{ctx.step_name}: train {step.trainer}", total=1)
    record = train_or_reuse(ctx, step, kwargs, digest)
    ctx.progress.advance(task)
    return train_step_output([record], step.trainer, snapshot=snapshot, snapshot_hash=digest)


def _run_train_dpo(ctx: StepContext, step: DPOStepFields) -> FiguresOutput:
    from .dpo_sweep_step import run_train_dpo  # the β sweep and its evaluation live there

    return run_train_dpo(ctx, step)


# A trainer's step is generated (``train_step_model``); these trainers add recipe-only fields
# (a β sweep, win-rate evaluation, step references) and their own run function.
STEP_BASES: dict[str, tuple[type[TrainStepConfig], Any]] = {
    "sft": (SFTStepFields, _run_train_sft),
    "dpo": (DPOStepFields, _run_train_dpo),
    "ppo": (PPOStepFields, run_train_step),
}


def register_train_steps() -> None:
    """One ``train_<name>`` recipe step per registered trainer (those without one yet)."""
    from .trainers import trainers

    for name, trainer in trainers().items():
        if is_registered(f"train_{name}"):
            continue
        base, run = STEP_BASES.get(name, (TrainStepConfig, run_train_step))
        model = train_step_model(trainer, base)
        globals()[model.__name__] = model  # SFTStepConfig, DPOStepConfig, GRPOStepConfig, …
        register_step(f"train_{name}", model, run)


register_train_steps()
