"""The AI judge's settings, one shape: ``JudgeTask`` (prompt template file, answer prefix,
presentation orders, chain of thought, constitution and principles to ensemble over).

Every face builds its judge requests here, so a pair is asked the same way everywhere: the
recipe ``judge`` step (``accord.rlaif.judge``), the AI-judged win-rate of PPO and DPO sweeps
(``accord.train.judged_win_rate``, whose ``AIJudgeSettings`` is a ``JudgeTask`` plus where the
judge model runs), ``accord judge preview`` and ``JudgeTask.preview``.

The template is a YAML file (``accord/rlaif/prompts/judge.yaml`` is the bundled ``judge``):
``system``, ``user`` with placeholders ``{request}``, ``{question}``, ``{response_a}``,
``{response_b}``, ``{instruction}``, the ``instruction`` / ``cot_instruction`` lines, the
``answer_prefix`` after which the log-probs of "A" and "B" are read, and the CoT ``cot_prefix``
and ``cot_stop``. A file that does not fit fails naming its file, line and field.

>>> task = JudgeTask(constitution="tiny-test", principles=["helpful"], orders="one")
>>> print(task.preview("Hi?", "Hello!", "Go away."))  # doctest: +ELLIPSIS
=== principle helpful, order ab (A = response_a) ===
[system]
You compare two candidate responses to a request. ...
[user]
Consider this request from a human:
<<<REQUEST>>>
Hi?
<<<END REQUEST>>>
...
(A)
<<<RESPONSE A>>>
Hello!
<<<END RESPONSE A>>>
...
Answer with (A) or (B).
[assistant]
The answer is: (
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..backends.base import GenerationRequest
from .constitution_task import AnsweredTask
from .prompt_files import (  # noqa: F401  (re-exported: where they used to live)
    PROMPTS_DIR,
    check_placeholders,
    load_prompt,
    placeholders,
    render_exact,
    render_messages,
    resolve_prompt_path,
)
from .templates import delimit, delimit_named

OPTIONS = ["A", "B"]
ORDER_CHOICES = {"both": ("ab", "ba"), "one": ("ab",)}
JUDGE_PLACEHOLDERS = ("request", "question", "response_a", "response_b", "instruction")


class JudgePrompt(BaseModel):
    """A judge prompt template file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(default=None, description="System message (none: no system turn).")
    user: str = Field(description="The question, with the placeholders.")
    instruction: str = Field(default="Answer with (A) or (B).", description="{instruction}.")
    cot_instruction: str = Field(
        default="First explain your reasoning step by step, then state the answer as (A) or (B).",
        description="{instruction} in CoT mode.",
    )
    answer_prefix: str = Field(
        default="The answer is: (",
        description="Assistant text the answer's log-probs are read after.",
    )
    cot_prefix: str = Field(
        default="Let's think step by step:", description="Assistant text the rationale follows."
    )
    cot_stop: list[str] = Field(
        default_factory=lambda: ["The answer is"], description="Stops the rationale."
    )

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        return check_placeholders(
            v, allowed=JUDGE_PLACEHOLDERS, required=("response_a", "response_b")
        )

    @field_validator("system", "instruction", "cot_instruction")
    @classmethod
    def _literal(cls, v: str | None) -> str | None:
        if v is not None:
            check_placeholders(v, allowed=(), required=())
        return v


@dataclass(kw_only=True)
class JudgeTask(AnsweredTask):
    """How a pair is asked: template, answer prefix, orders, CoT, constitution, principles."""

    prompt_model: ClassVar[type[BaseModel]] = JudgePrompt
    prompt_kind: ClassVar[str] = "judge"

    template: str = field(
        default="judge",
        metadata={"help": "Judge prompt template: a bundled name (judge) or a YAML file."},
    )
    orders: str = field(
        default="both",
        metadata={
            "help": "Presentation orders: both (A/B and swapped, averaged) or one (as given)."
        },
    )
    cot: bool = field(
        default=False, metadata={"help": "Chain of thought: a rationale, then the answer."}
    )
    cot_clamp: tuple[float, float] = field(
        default=(0.4, 0.6), metadata={"help": "Band CoT probabilities are clamped to."}
    )
    cot_max_tokens: int = field(default=128, metadata={"help": "Longest rationale."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.orders not in ORDER_CHOICES:
            raise ValueError(
                f"orders must be one of {', '.join(ORDER_CHOICES)}, got {self.orders!r}"
            )
        self.cot_clamp = tuple(float(x) for x in self.cot_clamp)
        if len(self.cot_clamp) != 2 or not (
            0.0 <= self.cot_clamp[0] <= 0.5 <= self.cot_clamp[1] <= 1.0
        ):
            raise ValueError("cot_clamp must satisfy 0 <= low <= 0.5 <= high <= 1")
        if self.cot_max_tokens < 1:
            raise ValueError(f"cot_max_tokens must be >= 1, got {self.cot_max_tokens}")

    # -- reading -----------------------------------------------------------------------------
    @property
    def prompt(self) -> JudgePrompt:
        return super().prompt

    @property
    def order_list(self) -> tuple[str, ...]:
        return ORDER_CHOICES[self.orders]

    def task_fields(self) -> dict[str, Any]:
        """This task's settings (no bookkeeping), e.g. to build one from another."""
        return {f.name: getattr(self, f.name) for f in fields(JudgeTask) if f.name != "base_dir"}

    # -- requests ----------------------------------------------------------------------------
    def messages(
        self, *, prompt: str, question: str, first: str, second: str
    ) -> list[dict[str, str]]:
        """The judge's messages for one principle's question, ``first`` shown as (A)."""
        t = self.prompt
        user = t.user.format(
            request=delimit_named("REQUEST", prompt),
            question=question.strip(),
            response_a=delimit("A", first),
            response_b=delimit("B", second),
            instruction=t.cot_instruction if self.cot else t.instruction,
        )
        system = [{"role": "system", "content": t.system}] if t.system else []
        return system + [{"role": "user", "content": user}]

    def rationale_request(
        self, messages: list[dict[str, str]], *, temperature: float, seed: int | None
    ) -> GenerationRequest:
        t = self.prompt
        return GenerationRequest(
            messages=messages,
            max_tokens=self.cot_max_tokens,
            temperature=temperature,
            seed=seed,
            stop=list(t.cot_stop),
            assistant_prefix=t.cot_prefix,
        )

    def answer_text_prefix(self, rationale: str | None = None) -> str:
        """What the assistant turn holds when the answer is scored."""
        if rationale is None:
            return self.prefix
        return f"{self.prompt.cot_prefix} {rationale}\n{self.prefix}"

    def answer_request(
        self, messages: list[dict[str, str]], *, seed: int | None, rationale: str | None = None
    ) -> GenerationRequest:
        return GenerationRequest(
            messages=messages,
            max_tokens=1,
            temperature=0.0,
            seed=seed,
            choices=list(OPTIONS),
            assistant_prefix=self.answer_text_prefix(rationale),
        )

    def pair_messages(
        self, *, prompt: str, response_a: str, response_b: str, principles: list
    ) -> list[tuple[Any, str, list[dict[str, str]]]]:
        """(principle, order, messages) for every question of a pair; canonical A is
        ``response_a`` and order ``ba`` shows ``response_b`` first."""
        out = []
        for principle in principles:
            for order in self.order_list:
                first, second = (
                    (response_a, response_b) if order == "ab" else (response_b, response_a)
                )
                out.append(
                    (
                        principle,
                        order,
                        self.messages(
                            prompt=prompt,
                            question=principle.comparison_question,
                            first=first,
                            second=second,
                        ),
                    )
                )
        return out

    def preview(
        self,
        prompt: str,
        response_a: str,
        response_b: str,
        *,
        model: str | None = None,
        principles: list | None = None,
    ) -> str:
        """The exact prompt of every question about this pair: with ``model`` (an id, folder or
        alias) its chat template is applied as the local backends do; without, role blocks.
        In CoT mode each question shows the rationale request (the answer is then scored after
        ``cot_prefix``, the rationale and the answer prefix)."""
        principles = principles if principles is not None else self.load_principles()
        asked = self.pair_messages(
            prompt=prompt, response_a=response_a, response_b=response_b, principles=principles
        )
        requests = [
            self.rationale_request(m, temperature=0.0, seed=0)
            if self.cot
            else self.answer_request(m, seed=0)
            for _, _, m in asked
        ]
        texts = render_exact(requests, model)
        return "\n".join(
            f"=== principle {p.id}, order {o} (A = response_{o[0]}) ===\n{text}"
            for (p, o, _), text in zip(asked, texts)
        )
