"""The options of the closed loop (``kind: loop``), each with its help text, checked when the
recipe is loaded."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ...jobs.registry import StepConfig
from .escalation import EscalateOptions


class LoopConfig(StepConfig):
    """Iterative RLAIF: each round samples from the current policy, pairs, AI-labels, freezes a
    snapshot, trains DPO from the current policy and evaluates it against rounds 0 and k−1."""

    produces_model: ClassVar[bool] = True

    policy: str | dict[str, Any] = Field(
        default="policy",
        description="Round-0 policy: a model "
        "alias, an inline {backend, model, options} or "
        "{from_step: NAME}. Later rounds sample from the trained "
        "folders with the same backend and options.",
    )
    judge: str | dict[str, Any] = Field(
        default="judge", description="AI judge model (alias, inline ref or {from_step: NAME})."
    )
    rounds: int = Field(default=3, ge=1, le=100, description="Rounds to run.")
    samples: int = Field(
        default=4, ge=2, le=64, description="K: responses sampled per prompt per round."
    )
    pairs: Literal["all", "west_of_n"] = Field(
        default="west_of_n",
        description="all: every pair "
        "of the K samples goes into the snapshot; "
        "west_of_n: every pair is judged, and each "
        "prompt's best-vs-worst pair by the judge is kept.",
    )
    temperature: float = Field(default=1.0, gt=0.0, le=5.0, description="Sampling temperature.")
    max_tokens: int = Field(default=64, ge=1, le=32768, description="Longest sampled response.")
    batch_size: int = Field(default=16, ge=1, le=4096, description="Requests per backend call.")
    constitution: str = Field(default="helpfulness-honesty", description="Judge constitution.")
    principles: list[str] | None = Field(
        default=None, description="Principles used (default: all)."
    )
    judge_batch_size: int = Field(default=4, ge=1, le=1024, description="Pairs per judge call.")
    calibration_id: int | None = Field(
        default=None,
        ge=1,
        description="A stored calibration of "
        "the judge (`accord calibrate`): West-of-N ranking and the "
        "judged win-rates use calibrated probabilities.",
    )
    snapshot: str = Field(
        default="{recipe}-round-{round}",
        description="Name of round k's snapshot; {recipe}, {step} and {round} are replaced.",
    )
    snapshot_policy: str = Field(default="soft", description="Resolution policy of the snapshots.")
    reference: Literal["initial", "previous"] = Field(
        default="initial",
        description="DPO "
        "reference: the round-0 policy throughout, "
        "or refreshed to the previous round's policy.",
    )
    beta: float = Field(default=0.1, gt=0.0, description="DPO β.")
    max_steps: int = Field(default=20, ge=1, description="DPO optimizer steps per round.")
    learning_rate: float | None = Field(
        default=None, gt=0, description="DPO learning rate (default: the trainer's)."
    )
    train_batch_size: int = Field(default=4, ge=1, description="DPO examples per micro-batch.")
    max_length: int = Field(default=256, ge=8, description="Longest tokenised DPO sequence.")
    train_options: dict[str, Any] = Field(
        default_factory=dict, description="Any other field of DPOTrainConfig."
    )
    eval_prompts: int = Field(
        default=8,
        ge=1,
        description="Prompts held out of training and used to evaluate every round.",
    )
    eval_samples: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Samples per held-out prompt and policy (paired by index across policies).",
    )
    eval_max_tokens: int | None = Field(
        default=None, ge=1, description="Longest evaluation response (default: max_tokens)."
    )
    eval_reward_model: str | dict[str, Any] | None = Field(
        default=None,
        description="A held-out reward model that "
        "judges the rounds too (win-rates vs rounds 0 and k−1 with CIs, "
        "length-controlled): a model alias, a train_rm step, {from_step: "
        "NAME}, a run id or a folder. Never one the loop trains on.",
    )
    eval_backend: Literal["same", "transformers", "vllm"] = Field(
        default="same",
        description="How the evaluation samples "
        "the held-out prompts: same (the policy's backend: vllm when it is "
        "vllm, else transformers), transformers, or vllm (an in-process "
        "engine on each round's folder; KL is computed in transformers).",
    )
    escalate: EscalateOptions | None = Field(
        default=None,
        description="Send the round's uncertain "
        "kept pairs to humans in Argilla before its snapshot, and wait for "
        "their labels or go on with those there are (see EscalateOptions).",
    )
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="Bootstrap CI coverage.")
    resamples: int = Field(
        default=1000,
        ge=0,
        description="Paired bootstrap resamples over held-out prompts (0: no intervals).",
    )
    stop_when_no_gain: bool = Field(
        default=False,
        description="Stop when the win-rate over the "
        "previous round is not above 0.5 by the CI (its low end ≤ 0.5).",
    )
    kl_budget: float | None = Field(
        default=None,
        gt=0.0,
        description="Stop once the policy's KL to the reference (nats per response) exceeds this.",
    )

    @model_validator(mode="after")
    def _check(self) -> LoopConfig:
        from ...snapshots.policies import POLICIES

        if self.snapshot_policy not in POLICIES:
            raise ValueError(
                f"snapshot_policy: unknown policy {self.snapshot_policy!r}; choose "
                f"one of {', '.join(POLICIES)}"
            )
        if isinstance(self.eval_reward_model, dict) and (
            set(self.eval_reward_model) != {"from_step"}
        ):
            raise ValueError(
                "eval_reward_model: a mapping here must be {from_step: NAME}; give other "
                "reward models by alias, step name, run id or folder"
            )
        if self.escalate is not None and self.snapshot_policy in ("ai-only",):
            raise ValueError(
                f"escalate: snapshot_policy {self.snapshot_policy!r} ignores human labels; "
                "use human-over-ai (or soft, majority, escalate)"
            )
        if "{round}" not in self.snapshot:
            raise ValueError("snapshot: the name needs {round}, one snapshot per round")
        managed = {
            "beta",
            "max_steps",
            "learning_rate",
            "max_length",
            "model",
            "ref_model",
            "snapshot",
            "seed",
            "run_name",
            "per_device_train_batch_size",
        }
        clash = sorted(set(self.train_options) & managed)
        if clash:
            raise ValueError(f"train_options: {', '.join(clash)} are set by the loop itself")
        self.dpo_step()  # DPOTrainConfig's own checks of train_options, now
        return self

    def dpo_step(self, base_model: str = "accord/tiny"):
        """The ``train_dpo`` step config a round trains with (``accord.train.recipe_steps``)."""
        from ...jobs.registry import get_step

        fields = {
            "kind": "train_dpo",
            "base_model": base_model,
            "beta": self.beta,
            "max_steps": self.max_steps,
            "batch_size": self.train_batch_size,
            "max_length": self.max_length,
            "evaluate": False,
            "options": dict(self.train_options),
        }
        if self.learning_rate is not None:
            fields["learning_rate"] = self.learning_rate
        return get_step("train_dpo").config_model.model_validate(fields)

    def sampling_backend(self, policy_backend: str) -> str:
        """The backend the evaluation samples with (``eval_backend``)."""
        if self.eval_backend == "same":
            return "vllm" if policy_backend == "vllm" else "transformers"
        return self.eval_backend

    def snapshot_name(self, *, recipe: str, step: str, round_: int) -> str:
        return self.snapshot.format(recipe=recipe, step=step, round=round_)
