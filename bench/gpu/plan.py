"""What bench/gpu/ measures, at GPU size and at dry-run size (same code, smaller numbers).

>>> PLANS["gpu"].batches, PLANS["gpu"].shapes
((1, 32, 256), ('qwen2.5-0.5b', 'qwen2.5-1.5b'))
>>> sum(PLANS["dry"].phase_caps_s.values()) <= PLANS["dry"].budget_s
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES = ("generation", "dpo", "ppo")


@dataclass(frozen=True)
class Plan:
    """Sizes of every measurement; ``budget_s`` is the hard limit over all phases, each phase
    capped at ``phase_caps_s`` plus whatever earlier phases left unused."""

    device: str
    shapes: tuple[str, ...]
    train_shape: str
    batches: tuple[int, ...] = (1, 32, 256)
    min_requests: int = field(default=4, metadata={"help": "requests per timed call at batch 1"})
    prompt_tokens: int = 64
    new_tokens: int = 64
    judge_pairs: int = 128
    judge_batch: int = field(default=32, metadata={"help": "pairs per backend call"})
    judge_rows: int = field(default=64, metadata={"help": "backend batch_size for the judge"})
    job_prompts: int = 32
    job_n: int = 2
    job_max_tokens: int = 32
    job_batch: int = 32
    job_repeats: int = 2
    dpo_steps: int = 8
    dpo_batch: int = 4
    dpo_examples: int = 64
    ppo_steps: int = 3
    ppo_batch: int = 8
    ppo_mini: int = 4
    ppo_epochs: int = 4
    ppo_new_tokens: int = 16
    bf16: bool = field(
        default=True, metadata={"help": "bf16 weights and mixed precision in training"}
    )
    budget_s: float = 390.0
    phase_caps_s: dict = field(default_factory=lambda: {"generation": 150, "dpo": 110, "ppo": 130})

    def __post_init__(self):
        if set(self.phase_caps_s) != set(PHASES):
            raise ValueError(f"phase_caps_s must name exactly {PHASES}")
        if min(self.batches) < 1 or self.min_requests < 2:
            raise ValueError("batches must be >= 1 and min_requests >= 2 (one warm-up pair)")
        if self.ppo_batch % self.ppo_mini:
            raise ValueError("ppo_batch must be a multiple of ppo_mini")


PLANS = {
    "gpu": Plan(device="cuda", shapes=("qwen2.5-0.5b", "qwen2.5-1.5b"), train_shape="qwen2.5-0.5b"),
    "dry": Plan(
        device="cpu",
        shapes=("dry-a", "dry-b"),
        train_shape="dry-a",
        batches=(1, 4),
        min_requests=2,
        prompt_tokens=16,
        new_tokens=4,
        judge_pairs=4,
        judge_batch=2,
        judge_rows=4,
        job_prompts=4,
        job_n=1,
        job_max_tokens=4,
        job_batch=4,
        job_repeats=1,
        dpo_steps=2,
        dpo_batch=2,
        dpo_examples=8,
        ppo_steps=1,
        ppo_batch=4,
        ppo_mini=2,
        # bf16 training needs a GPU (transformers refuses it on a CPU); generation stays bf16
        ppo_epochs=1,
        ppo_new_tokens=4,
        bf16=False,
        # about 2 min on 2 quiet cores; the caps only stop a hang on a busy machine
        budget_s=720.0,
        phase_caps_s={"generation": 240, "dpo": 240, "ppo": 240},
    ),
}
