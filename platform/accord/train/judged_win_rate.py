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

from dataclasses import dataclass, field, fields
from typing import Any

from accord.rlaif.judge_task import JudgeTask

WIN_RATE_JUDGES = ("rm", "ai")


# Task fields added after win-rate evaluations were first keyed: at their defaults they are left
# out of ``key()``, so an unchanged evaluation keeps its key and is not measured again.
_LATER_FIELDS = ("template", "answer_prefix", "orders", "cot", "cot_clamp", "cot_max_tokens")


@dataclass(kw_only=True)
class AIJudgeSettings(JudgeTask):
    """Which AI judge decides the win-rate, and how to reach it: the judge's ``JudgeTask``
    (template, answer prefix, orders, CoT, constitution, principles) plus its model."""

    model: str = field(metadata={"help": "AI judge model id, folder or alias."})
    backend: str = field(
        default="transformers",
        metadata={
            "help": "AI judge backend: transformers, openai (any OpenAI-compatible server) or vllm."
        },
    )
    constitution: str = field(
        default="helpfulness-honesty",
        metadata={
            "help": "Constitution "
            "whose comparison questions the AI judge asks (bundled name or YAML path)."
        },
    )
    base_url: str | None = field(
        default=None, metadata={"help": "Server URL for the openai backend."}
    )
    batch_size: int = field(default=8, metadata={"help": "Prompts per AI judge backend call."})
    options: dict[str, Any] = field(default_factory=dict, metadata={"help": "Backend options."})

    def __post_init__(self) -> None:
        super().__post_init__()
        from accord.backends import BACKEND_NAMES

        if self.backend not in BACKEND_NAMES:
            raise ValueError(
                f"judge backend must be one of {', '.join(BACKEND_NAMES)}, got {self.backend!r}"
            )
        if self.batch_size < 1:
            raise ValueError(f"judge batch_size must be >= 1, got {self.batch_size}")

    @classmethod
    def from_prefixed(cls, config: Any, prefix: str = "judge_", **given: Any) -> AIJudgeSettings:
        """Settings from ``config``'s ``<prefix><field>`` attributes (a trainer config's
        ``judge_model``, ``judge_cot``, ...), those it has."""
        values = {
            f.name: getattr(config, prefix + f.name)
            for f in fields(cls)
            if f.name != "base_dir" and hasattr(config, prefix + f.name)
        }
        return cls(**{**values, **given})

    def describe(self) -> str:
        return f"ai:{self.backend}:{self.model}:{self.constitution}"

    def key(self) -> dict[str, Any]:
        """What decides this judge's verdicts, for evaluation keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "base_dir"}
        defaults = {f.name: f.default for f in fields(JudgeTask)}
        for name in _LATER_FIELDS:
            if out[name] == defaults[name]:
                del out[name]
        if "cot_clamp" in out:
            out["cot_clamp"] = list(out["cot_clamp"])
        return out

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
    indices: list[int] = field(default_factory=list)  # the triples each probability belongs to

    def metrics(self, prefix: str = "win_rate") -> dict[str, float]:
        return {
            f"{prefix}_position_consistency": self.position_consistency,
            f"{prefix}_judged": self.judged,
            f"{prefix}_failed": self.failed,
        }


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
        self.settings = settings
        self.principles = settings.load_principles()
        self._backend = backend

    @property
    def backend(self):
        if self._backend is None:
            from accord.backends import make_backend

            self._backend = make_backend(
                self.settings.backend, self.settings.model, **self.settings.backend_options()
            )
        return self._backend

    def describe(self) -> str:
        return self.settings.describe()

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _generate(self, requests: list, per_prompt: int) -> list:
        results = []
        step = max(1, self.settings.batch_size * per_prompt)
        for start in range(0, len(requests), step):
            results.extend(self.backend.generate(requests[start : start + step]))
        return results

    def __call__(
        self, prompts: list[str], policy_responses: list[str], reference_responses: list[str]
    ) -> JudgedWinRate:
        from accord.rlaif.judge import aggregate, canonical_prob, clamp, p_shown_a
        from accord.rlaif.templates import UnparsableOutput
        from accord.train.chat import prompt_text

        if not (len(prompts) == len(policy_responses) == len(reference_responses)):
            raise ValueError(
                "prompts, policy_responses and reference_responses must have the same length"
            )
        task = self.settings
        asked = [
            task.pair_messages(
                prompt=prompt_text(prompt),
                response_a=ours,
                response_b=theirs,
                principles=self.principles,
            )  # canonical A is the policy
            for prompt, ours, theirs in zip(prompts, policy_responses, reference_responses)
        ]
        slots = [_Slot(p, order) for p, order, _ in asked[0]] if asked else []
        messages = [m for questions in asked for _, _, m in questions]
        rationales: list[str | None] = [None] * len(messages)
        if task.cot:
            asks = [task.rationale_request(m, temperature=0.0, seed=0) for m in messages]
            rationales = [
                (r.text or "").strip() if not r.error else None
                for r in self._generate(asks, len(slots))
            ]
        requests = [
            task.answer_request(m, seed=0, rationale=r) for m, r in zip(messages, rationales)
        ]
        results = self._generate(requests, len(slots))
        probabilities, consistent, indices, failed = [], [], [], 0
        n = len(slots)
        for i in range(len(prompts)):
            answers = results[i * n : (i + 1) * n]
            try:
                if any(r.error for r in answers):
                    raise UnparsableOutput(next(r.error for r in answers if r.error))
                if task.cot and any(r is None for r in rationales[i * n : (i + 1) * n]):
                    raise UnparsableOutput("no rationale")
                per_slot = [
                    (slot, canonical_prob(p_shown_a(r.choice_logprobs), slot.order))
                    for slot, r in zip(slots, answers)
                ]
                if task.cot:
                    per_slot = [(slot, clamp(p, task.cot_clamp)) for slot, p in per_slot]
            except UnparsableOutput:  # a prompt the judge could not answer is left out, and counted
                failed += 1
                continue
            prob, meta = aggregate(per_slot, tie_band=0.0)
            probabilities.append(prob)
            consistent.append(meta["position_consistency"])
            indices.append(i)
        if not probabilities:
            raise RuntimeError(
                f"the AI judge ({self.describe()}) returned no usable judgment for {len(prompts)} "
                "prompts"
            )
        return JudgedWinRate(
            win_rate=sum(probabilities) / len(probabilities),
            probabilities=probabilities,
            position_consistency=sum(consistent) / len(consistent),
            judged=len(probabilities),
            failed=failed,
            indices=indices,
        )


def ai_win_rate(
    settings: AIJudgeSettings,
    prompts: list[str],
    policy_responses: list[str],
    reference_responses: list[str],
) -> JudgedWinRate:
    """One-shot AI-judged win-rate (builds the judge's backend, judges, releases it)."""
    judge = AIWinRateJudge(settings)
    try:
        return judge(prompts, policy_responses, reference_responses)
    finally:
        judge.close()
