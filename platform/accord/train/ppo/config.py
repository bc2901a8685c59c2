"""Configuration of accord's PPO trainer (names follow trl's former PPOConfig where they
overlap)."""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.backends import BACKEND_NAMES
from accord.train.config import TrainConfig
from accord.train.judged_win_rate import WIN_RATE_JUDGES, AIJudgeSettings
from accord.train.loss_settings import DEFAULT_GAE_LAMBDA, check_reward_kl_estimator


@dataclass
class PPOTrainConfig(TrainConfig):
    """PPO with a KL penalty to the frozen reference policy, scored by a frozen reward model.

    Each step: roll out ``rollout_batch_size`` prompts, score at EOS, penalise per-token KL,
    GAE, then ``ppo_epochs`` passes of minibatches of ``mini_batch_size``.
    """

    reward_model: str = field(
        default="accord/tiny-reward",
        metadata={"help": "Reward model: an rm run id/name, a folder or a model id."},
    )
    ref_model: str | None = field(
        default=None, metadata={"help": "Frozen reference policy (default: the starting model)."}
    )
    value_model: str | None = field(
        default=None,
        metadata={"help": "Initial value model (default: the reward model, as in InstructGPT)."},
    )
    rollout_batch_size: int = field(
        default=8, metadata={"help": "Prompts sampled per PPO step (per process)."}
    )
    mini_batch_size: int = field(default=4, metadata={"help": "Rollouts per gradient step."})
    ppo_epochs: int = field(default=4, metadata={"help": "Passes over each rollout batch."})
    max_prompt_length: int = field(
        default=128, metadata={"help": "Prompt tokens kept (from the left)."}
    )
    max_new_tokens: int = field(default=24, metadata={"help": "Longest sampled response."})
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature (log-probs use the same)."}
    )
    top_k: int = field(default=0, metadata={"help": "Top-k sampling (0: off)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling."})
    kl_coef: float = field(default=0.05, metadata={"help": "Initial KL coefficient β."})
    target_kl: float | None = field(
        default=None,
        metadata={"help": "Adaptive KL target (nats per sequence); None keeps β fixed."},
    )
    kl_horizon: int = field(default=10_000, metadata={"help": "Adaptive KL horizon (samples)."})
    kl_estimator: str = field(
        default="k1",
        metadata={
            "help": "Per-token KL estimator in the reward: k1 (log π − log π_ref), the only one "
            "whose policy gradient is that of the KL; k3 is refused (it converges to the "
            "wrong policy in the reward)."
        },
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount."})
    lam: float = field(default=DEFAULT_GAE_LAMBDA, metadata={"help": "GAE λ."})
    cliprange: float = field(default=0.2, metadata={"help": "Policy ratio clip ε."})
    cliprange_value: float = field(default=0.2, metadata={"help": "Value clip ε."})
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss."})
    whiten_rewards: bool = field(
        default=False, metadata={"help": "Whiten token rewards before GAE."}
    )
    missing_eos_penalty: float | None = field(
        default=None, metadata={"help": "Subtracted from the score of responses without EOS."}
    )
    rollout_engine: str = field(
        default="transformers", metadata={"help": "transformers or vllm (when installed)."}
    )
    eval_every: int = field(
        default=0,
        metadata={"help": "Win-rate vs the reference every N steps (0: only at the end)."},
    )
    eval_prompts: int = field(default=16, metadata={"help": "Held-out prompts for the win-rate."})
    win_rate_judge: str = field(
        default="rm",
        metadata={
            "help": "Who judges the win-rate: rm (the reward model) or ai (the RLAIF pairwise "
            "judge)."
        },
    )
    judge_backend: str = field(
        default="transformers",
        metadata={
            "help": "AI judge backend: transformers, openai (any OpenAI-compatible server) or vllm."
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={"help": "AI judge model id or folder (required with win_rate_judge='ai')."},
    )
    judge_constitution: str = field(
        default="helpfulness-honesty",
        metadata={
            "help": "Constitution whose comparison questions the AI judge asks (bundled name or "
            "YAML path)."
        },
    )
    judge_principles: list[str] | None = field(
        default=None, metadata={"help": "Principle ids to ensemble over (default: all)."}
    )
    judge_base_url: str | None = field(
        default=None, metadata={"help": "Server URL for the openai judge backend."}
    )
    judge_batch_size: int = field(
        default=8, metadata={"help": "Prompts per AI judge backend call."}
    )
    judge_template: str = field(
        default="judge",
        metadata={
            "help": "AI judge prompt template: a bundled name (judge) or a YAML file (see accord "
            "judge preview)."
        },
    )
    judge_answer_prefix: str | None = field(
        default=None,
        metadata={
            "help": "Assistant text the AI judge's answer is read after (default: the template's)."
        },
    )
    judge_orders: str = field(
        default="both", metadata={"help": "AI judge presentation orders: both (averaged) or one."}
    )
    judge_cot: bool = field(
        default=False, metadata={"help": "AI judge chain of thought: a rationale, then the answer."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping."})
    max_steps: int = 10
    learning_rate: float = 1e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mini_batch_size < 1 or self.rollout_batch_size % self.mini_batch_size:
            raise ValueError(
                f"rollout_batch_size ({self.rollout_batch_size}) must be a multiple of "
                f"mini_batch_size ({self.mini_batch_size})"
            )
        if self.ppo_epochs < 1:
            raise ValueError(f"ppo_epochs must be >= 1, got {self.ppo_epochs}")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")
        if self.target_kl is not None and self.target_kl <= 0:
            raise ValueError(f"target_kl must be > 0, got {self.target_kl}")
        check_reward_kl_estimator(self.kl_estimator)
        if self.rollout_engine not in ("transformers", "vllm"):
            raise ValueError(
                f"rollout_engine must be transformers or vllm, got {self.rollout_engine!r}"
            )
        if self.win_rate_judge not in WIN_RATE_JUDGES:
            raise ValueError(
                f"win_rate_judge must be one of {', '.join(WIN_RATE_JUDGES)}, got "
                f"{self.win_rate_judge!r}"
            )
        if self.win_rate_judge == "ai":
            if not self.judge_model:
                raise ValueError(
                    "win_rate_judge='ai' needs judge_model (e.g. accord/tiny offline, or a served "
                    "model)"
                )
            if self.judge_backend not in BACKEND_NAMES:
                raise ValueError(
                    f"judge_backend must be one of {', '.join(BACKEND_NAMES)}, got "
                    f"{self.judge_backend!r}"
                )
        if self.judge_batch_size < 1:
            raise ValueError(f"judge_batch_size must be >= 1, got {self.judge_batch_size}")
        if self.win_rate_judge == "ai":
            # the judge's own checks (orders, answer prefix), reported as judge_<field>
            self.ai_judge_settings()
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not (0 < self.cliprange < 1) or self.cliprange_value <= 0:
            raise ValueError("cliprange must be in (0, 1) and cliprange_value > 0")
        if not (0 <= self.lam <= 1) or not (0 <= self.gamma <= 1):
            raise ValueError("gamma and lam must be in [0, 1]")

    def ai_judge_settings(self) -> AIJudgeSettings | None:
        """The AI judge of the win-rate, or None when the reward model judges it."""
        if self.win_rate_judge != "ai":
            return None
        try:
            return AIJudgeSettings.from_prefixed(self, "judge_")
        except ValueError as exc:
            raise ValueError(
                f"judge_{exc}" if str(exc).split(" ")[0] in _JUDGE_TASK_FIELDS else str(exc)
            ) from None

    def to_dict(self) -> dict:
        """As stored on the run; the AI-judge fields added later are left out at their defaults,
        so a run with an unchanged config is still found and reused."""
        out = super().to_dict()
        for name, default in _LATER_JUDGE_DEFAULTS.items():
            if out.get(name) == default:
                out.pop(name)
        return out


_JUDGE_TASK_FIELDS = (
    "orders",
    "answer_prefix",
    "template",
    "cot_clamp",
    "cot_max_tokens",
    "principles",
)
_LATER_JUDGE_DEFAULTS = {
    "judge_template": "judge",
    "judge_answer_prefix": None,
    "judge_orders": "both",
    "judge_cot": False,
}
