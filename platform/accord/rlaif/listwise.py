"""Listwise AI ranking: one prompt shows the K responses labelled (A), (B), (C), … and the
judge's order is read from the log-probs of the labels, position by position.

The answer is never read from free text. After the template's answer prefix ("The ranking
is: (") every label is scored in context as the answer's first label (a ``choices`` request:
the backend tokenizes prompt + label together, ``accord.backends.scoring``), and the
probabilities are renormalised over the labels: that is the judge's distribution of the best
response. The most likely label is taken, written after the prefix with the separator
("(C) > ("), and the labels left are scored in that context and renormalised over
themselves: the distribution of the second best, and so on (Plackett–Luce style: name one,
remove it, renormalise over the rest). The last label needs no request.

Each principle's question is asked in two presentations, ``forward`` (the responses in their
canonical order, by content hash: the first is (A)) and ``reversed`` (the last is (A)), so a
judge that prefers the response shown first cannot make it win by position alone. Every
stage of every presentation is a Plackett–Luce observation of the responses still open;
``accord.rlaif.plackett_luce`` fits one set of strengths to all of them. The strengths order
the responses, and the ranking is stored as the Bradley–Terry method stores its own
(``scores``, expanded judgments with ``prob_a = σ(θ_a − θ_b)``).

The ranking's meta keeps what was read: per presentation the labels' responses (indices into
the ranking's ``response_ids``), the order it read, ``raw_output`` (the answer as text),
``scored_text`` (the exact text of its last stage: chat template with the answer prefix and
the labels read before; every earlier stage scored a prefix of it, ``scored_chars`` long;
None when an OpenAI-compatible server rendered it) and per stage ``choice_logprobs``,
``probs`` (renormalised over the open labels), ``picked``, ``truncated_choice`` and
``cache_key``.

>>> task = ListwiseTask(constitution="tiny-test", principles=["helpful"])
>>> task.labels(3), task.answer_text(["C", "A", "B"])
(['A', 'B', 'C'], 'The ranking is: (C) > (A) > (B)')
>>> messages = task.messages(prompt="Hi?", question="Which is best?", shown=["x", "y", "z"])
>>> request = task.request(messages, open_labels=["A", "C"], picked=["B"], seed=0)
>>> request.assistant_prefix, request.choices
('The ranking is: (B) > (', ['A', 'C'])
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..backends.base import GenerationRequest, GenerationResult
from .constitution_task import AnsweredTask
from .prompt_files import check_placeholders
from .templates import UnparsableOutput, delimit, delimit_named

RANK_PLACEHOLDERS = ("request", "question", "responses", "instruction")
PRESENTATIONS = {"both": ("forward", "reversed"), "one": ("forward",)}
LABELS = string.ascii_uppercase


class RankPrompt(BaseModel):
    """A listwise ranking prompt template file (``accord/rlaif/prompts/rank.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(default=None, description="System message (none: no system turn).")
    user: str = Field(description="The question, with the placeholders.")
    instruction: str = Field(
        default="Rank all {k} responses ({labels}) from best to worst.",
        description="{instruction}; may use {labels} and {k}.",
    )
    answer_prefix: str = Field(
        default="The ranking is: (", description="Assistant text the first label is read after."
    )
    separator: str = Field(default=") > (", description="Written between two labels of the answer.")
    closing: str = Field(default=")", description="Closes the answer after the last label.")

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        return check_placeholders(v, allowed=RANK_PLACEHOLDERS, required=("responses",))

    @field_validator("instruction")
    @classmethod
    def _instruction(cls, v: str) -> str:
        return check_placeholders(v, allowed=("labels", "k"), required=())

    @field_validator("system")
    @classmethod
    def _literal(cls, v: str | None) -> str | None:
        if v is not None:
            check_placeholders(v, allowed=(), required=())
        return v

    @field_validator("answer_prefix", "separator")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v


@dataclass(kw_only=True)
class ListwiseTask(AnsweredTask):
    """How K responses are asked: template, answer prefix, presentations, principles."""

    prompt_model: ClassVar[type[BaseModel]] = RankPrompt
    prompt_kind: ClassVar[str] = "rank"

    template: str = field(
        default="rank",
        metadata={"help": "Listwise prompt template: a bundled name (rank) or a YAML file."},
    )
    orders: str = field(
        default="both",
        metadata={"help": "Presentations: both (forward and reversed) or one (forward only)."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.orders not in PRESENTATIONS:
            raise ValueError(
                f"orders must be one of {', '.join(PRESENTATIONS)}, got {self.orders!r}"
            )

    @property
    def prompt(self) -> RankPrompt:
        return super().prompt

    @property
    def presentations(self) -> tuple[str, ...]:
        return PRESENTATIONS[self.orders]

    @staticmethod
    def labels(k: int) -> list[str]:
        if not 2 <= k <= len(LABELS):
            raise ValueError(f"a listwise ranking shows 2 to {len(LABELS)} responses, got {k}")
        return list(LABELS[:k])

    @staticmethod
    def shown(k: int, presentation: str) -> list[int]:
        """Indices (into the canonical order) of the responses labelled A, B, … in order."""
        return list(range(k)) if presentation == "forward" else list(reversed(range(k)))

    def messages(self, *, prompt: str, question: str, shown: list[str]) -> list[dict[str, str]]:
        """The judge's messages: ``shown[n]`` is labelled with the n-th letter."""
        t = self.prompt
        labels = self.labels(len(shown))
        blocks = "\n\n".join(
            f"({label})\n{delimit(label, text)}" for label, text in zip(labels, shown)
        )
        user = t.user.format(
            request=delimit_named("REQUEST", prompt),
            question=question.strip(),
            responses=blocks,
            instruction=t.instruction.format(
                labels=", ".join(f"({label})" for label in labels), k=len(labels)
            ),
        )
        system = [{"role": "system", "content": t.system}] if t.system else []
        return system + [{"role": "user", "content": user}]

    def assistant_text(self, picked: list[str]) -> str:
        """The assistant turn the next label is scored after."""
        return self.prefix + "".join(label + self.prompt.separator for label in picked)

    def answer_text(self, order: list[str]) -> str:
        """The whole answer read, as text."""
        t = self.prompt
        return self.prefix + t.separator.join(order) + t.closing

    def request(
        self,
        messages: list[dict[str, str]],
        *,
        open_labels: list[str],
        picked: list[str],
        seed: int | None,
    ) -> GenerationRequest:
        """The ``choices`` request for the next label after ``picked``: one of ``open_labels``."""
        return GenerationRequest(
            messages=messages,
            max_tokens=1,
            temperature=0.0,
            seed=seed,
            choices=list(open_labels),
            assistant_prefix=self.assistant_text(picked),
        )


def read_stage(result: GenerationResult, open_labels: list[str]) -> dict[str, Any]:
    """One stage's reading: each open label's log-prob, renormalised probabilities over the
    open labels, and the most likely one (``UnparsableOutput`` when a label is missing)."""
    lps = result.choice_logprobs or {}
    missing = [label for label in open_labels if label not in lps]
    if missing:
        raise UnparsableOutput(f"rank: no log-probs for labels {missing}, got {lps!r}")
    values = [lps[label] for label in open_labels]
    if not any(math.isfinite(v) for v in values):
        raise UnparsableOutput("rank: every open label has zero probability")
    peak = max(v for v in values if math.isfinite(v))
    weights = [math.exp(v - peak) if math.isfinite(v) else 0.0 for v in values]
    total = sum(weights)
    probs = {label: w / total for label, w in zip(open_labels, weights)}
    picked = max(open_labels, key=lambda label: (probs[label], -open_labels.index(label)))
    return {
        "choice_logprobs": {label: lps[label] for label in open_labels},
        "probs": probs,
        "picked": picked,
        "truncated_choice": bool(result.truncated_choice),
    }


@dataclass
class Presentation:
    """One principle's question in one presentation order, read stage by stage."""

    principle: Any
    order: str
    shown: list[int]  # canonical index of the response labelled A, B, ...
    labels: list[str]
    messages: list[dict[str, str]]
    stages: list[dict[str, Any]] = field(default_factory=list)
    scored_text: str | None = None

    @property
    def picked(self) -> list[str]:
        return [s["picked"] for s in self.stages]

    @property
    def done(self) -> bool:
        return len(self.stages) >= len(self.labels) - 1

    def open_labels(self) -> list[str]:
        return [label for label in self.labels if label not in self.picked]

    def next_request(self, task: ListwiseTask, *, seed: int | None) -> GenerationRequest:
        return task.request(
            self.messages, open_labels=self.open_labels(), picked=self.picked, seed=seed
        )

    def read_order(self) -> list[str]:
        """Labels best first (the last one is the label no stage picked)."""
        return self.picked + [label for label in self.open_labels()]

    def add(self, reading: dict[str, Any], result: GenerationResult, cache_key: str) -> None:
        text = result.scored_text
        self.stages.append(
            {
                **reading,
                "scored_chars": len(text) if text is not None else None,
                "cache_key": cache_key,
            }
        )
        self.scored_text = text

    def pl_stages(self) -> list[tuple[list[int], list[float]]]:
        """Each stage as (canonical indices of the open responses, their probabilities)."""
        index = dict(zip(self.labels, self.shown))
        return [
            ([index[label] for label in s["probs"]], list(s["probs"].values())) for s in self.stages
        ]

    def record(self, task: ListwiseTask) -> dict[str, Any]:
        index = dict(zip(self.labels, self.shown))
        return {
            "principle": self.principle.id,
            "order": self.order,
            "shown": list(self.shown),
            "read_order": [index[label] for label in self.read_order()],
            "raw_output": task.answer_text(self.read_order()),
            "scored_text": self.scored_text,
            "stages": self.stages,
        }


def presentations_of(
    task: ListwiseTask, *, prompt: str, texts: list[str], principles: list
) -> list[Presentation]:
    """Every (principle × presentation order) question about one prompt's responses
    (``texts`` in canonical order)."""
    labels = task.labels(len(texts))
    out = []
    for principle in principles:
        for order in task.presentations:
            shown = task.shown(len(texts), order)
            messages = task.messages(
                prompt=prompt,
                question=principle.comparison_question,
                shown=[texts[i] for i in shown],
            )
            out.append(Presentation(principle, order, shown, labels, messages))
    return out


def summary(presentations: list[Presentation]) -> dict[str, Any]:
    """Position bias of one ranking's readings: whether each principle's orders read the
    same order, and how often the response shown first was read first."""
    by_principle: dict[str, list[list[int]]] = {}
    for p in presentations:
        index = dict(zip(p.labels, p.shown))
        by_principle.setdefault(p.principle.id, []).append([index[x] for x in p.read_order()])
    consistent = {pid: all(o == orders[0] for o in orders) for pid, orders in by_principle.items()}
    first = [p.read_order()[0] == p.labels[0] for p in presentations]
    return {
        "position_consistent": all(consistent.values()),
        "consistent_by_principle": consistent,
        "first_shown_read_first": sum(first) / len(first),
    }
