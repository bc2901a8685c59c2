"""Win-rate of a trained policy against its reference, judged by the RLAIF pairwise AI judge.

The reward model a policy was trained against is a biased judge of that policy: the policy has
learned what the reward model likes. ``AIWinRateJudge`` asks an independent judge model instead,
with the RLAIF judge's own prompts and maths (``accord.rlaif.judge``): for each held-out prompt
and each principle of a constitution, the judge compares the policy's response with the
reference's in both presentation orders, answering only through the log-probs of "A" and "B"
(``choices`` requests, never free text). Per prompt, P(policy ≻ reference) is the mean over
orders and principles, the RLAIF aggregate; the win-rate is the mean of those soft
probabilities (the expected win-rate under the judge, so a 0.5 judgment counts as a tie), and
position consistency (the same winner in both orders) is reported beside it.

The backend is any accord backend: ``transformers`` (a local model, ``accord/tiny`` offline),
``openai`` (any OpenAI-compatible server: ``base_url``) or ``vllm``.

>>> from accord.train.judged_win_rate import AIJudgeSettings
>>> AIJudgeSettings(model="Qwen/Qwen2.5-7B-Instruct", backend="openai").describe()
'ai:openai:Qwen/Qwen2.5-7B-Instruct:helpfulness-honesty'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WIN_RATE_JUDGES = ("rm", "ai")


@dataclass
class AIJudgeSettings:
    """Which AI judge decides the win-rate, and how to reach it."""

    model: str
    backend: str = "transformers"
    constitution: str = "helpfulness-honesty"
    principles: list[str] | None = None
    base_url: str | None = None
    batch_size: int = 8
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"ai:{self.backend}:{self.model}:{self.constitution}"

    def backend_options(self) -> dict[str, Any]:
        options = dict(self.options)
        if self.backend == "openai" and self.base_url:
            options.setdefault("base_url", self.base_url)
        if self.backend == "transformers":
            options.setdefault("batch_size", self.batch_size)
        return options


@dataclass
class JudgedWinRate:
    """Mean P(policy ≻ reference), the per-prompt probabilities and the judge's consistency."""

    win_rate: float
    probabilities: list[float]
    position_consistency: float
    judged: int
    failed: int

    def metrics(self, prefix: str = "win_rate") -> dict[str, float]:
        return {f"{prefix}_position_consistency": self.position_consistency, f"{prefix}_judged": self.judged,
                f"{prefix}_failed": self.failed}


@dataclass
class _Slot:
    """One (principle, presentation order) question; the shape ``rlaif.judge.aggregate`` reads."""

    principle: Any
    order: str


class AIWinRateJudge:
    """Judges (prompt, policy response, reference response) triples with the RLAIF judge.

    The backend is built on first use and released by ``close``.
    """

    def __init__(self, settings: AIJudgeSettings, *, backend=None):
        from accord.constitutions import load_constitution

        self.settings = settings
        self.constitution = load_constitution(settings.constitution)
        self.principles = ([self.constitution.principle(p) for p in settings.principles] if settings.principles
                           else list(self.constitution.principles))
        self._backend = backend

    @property
    def backend(self):
        if self._backend is None:
            from accord.backends import make_backend

            self._backend = make_backend(self.settings.backend, self.settings.model, **self.settings.backend_options())
        return self._backend

    def describe(self) -> str:
        return self.settings.describe()

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __call__(self, prompts: list[str], policy_responses: list[str],
                 reference_responses: list[str]) -> JudgedWinRate:
        from accord.backends.base import GenerationRequest
        from accord.rlaif.judge import (
            ANSWER_PREFIX,
            OPTIONS,
            ORDERS,
            aggregate,
            canonical_prob,
            judge_messages,
            p_shown_a,
        )
        from accord.rlaif.templates import UnparsableOutput
        from accord.train.chat import prompt_text

        if not (len(prompts) == len(policy_responses) == len(reference_responses)):
            raise ValueError("prompts, policy_responses and reference_responses must have the same length")
        slots = [_Slot(p, order) for p in self.principles for order in ORDERS]
        requests = []
        for prompt, ours, theirs in zip(prompts, policy_responses, reference_responses):
            for slot in slots:  # canonical A is the policy; "ba" shows the reference first
                first, second = (ours, theirs) if slot.order == "ab" else (theirs, ours)
                requests.append(GenerationRequest(
                    messages=judge_messages(prompt=prompt_text(prompt), principle=slot.principle, first=first, second=second,
                                            cot=False),
                    max_tokens=1, temperature=0.0, seed=0, choices=list(OPTIONS), assistant_prefix=ANSWER_PREFIX))
        results = []
        step = max(1, self.settings.batch_size * len(slots))
        for start in range(0, len(requests), step):
            results.extend(self.backend.generate(requests[start:start + step]))
        probabilities, consistent, failed = [], [], 0
        n = len(slots)
        for i in range(len(prompts)):
            answers = results[i * n:(i + 1) * n]
            try:
                if any(r.error for r in answers):
                    raise UnparsableOutput(next(r.error for r in answers if r.error))
                per_slot = [(slot, canonical_prob(p_shown_a(r.choice_logprobs), slot.order))
                            for slot, r in zip(slots, answers)]
            except UnparsableOutput:  # a prompt the judge could not answer is left out, and counted
                failed += 1
                continue
            prob, meta = aggregate(per_slot, tie_band=0.0)
            probabilities.append(prob)
            consistent.append(meta["position_consistency"])
        if not probabilities:
            raise RuntimeError(f"the AI judge ({self.describe()}) returned no usable judgment for {len(prompts)} prompts")
        return JudgedWinRate(win_rate=sum(probabilities) / len(probabilities), probabilities=probabilities,
                             position_consistency=sum(consistent) / len(consistent), judged=len(probabilities),
                             failed=failed)


def ai_win_rate(settings: AIJudgeSettings, prompts: list[str], policy_responses: list[str],
                reference_responses: list[str]) -> JudgedWinRate:
    """One-shot AI-judged win-rate (builds the judge's backend, judges, releases it)."""
    judge = AIWinRateJudge(settings)
    try:
        return judge(prompts, policy_responses, reference_responses)
    finally:
        judge.close()
