"""Critique and revision prompts, one shape: ``CritiqueReviseTask`` (prompt template file,
constitution, principles, few-shot), used by the recipe ``critique_revise`` step,
``accord critique preview`` and ``CritiqueReviseTask.preview``.

The template is a YAML file (``accord/rlaif/prompts/critique.yaml`` is the bundled
``critique``): ``prompt`` (the user turn holding the request, ``{prompt}``), ``critique``
(``{critique_request}``, the principle's) and ``revision`` (``{revision_request}``). The
conversation is request → response → critique request → critique → revision request, after the
constitution's few-shot examples in the same shape.

>>> task = CritiqueReviseTask(constitution="tiny-test", principles=["helpful"], few_shot=False)
>>> print(task.preview("Hi?", "Go away."))  # doctest: +ELLIPSIS
=== principle helpful: critique ===
[user]
Hi?
[assistant]
Go away.
[user]
...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..backends.base import GenerationRequest
from .constitution_task import ConstitutionTask
from .prompt_files import check_placeholders, render_exact


class CritiquePrompt(BaseModel):
    """A critique/revision template file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="{prompt}", description="User turn with the request.")
    critique: str = Field(
        default="{critique_request}", description="User turn asking for the critique."
    )
    revision: str = Field(
        default="{revision_request}", description="User turn asking for the revision."
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return check_placeholders(v, allowed=("prompt",), required=("prompt",))

    @field_validator("critique")
    @classmethod
    def _critique(cls, v: str) -> str:
        return check_placeholders(v, allowed=("critique_request",), required=())

    @field_validator("revision")
    @classmethod
    def _revision(cls, v: str) -> str:
        return check_placeholders(v, allowed=("revision_request",), required=())


@dataclass(kw_only=True)
class CritiqueReviseTask(ConstitutionTask):
    """How a response is critiqued and revised: template, constitution, principles, few-shot."""

    prompt_model: ClassVar[type[BaseModel]] = CritiquePrompt
    prompt_kind: ClassVar[str] = "critique"

    template: str = field(
        default="critique",
        metadata={
            "help": "Critique/revision prompt template: a bundled name (critique) or a YAML file."
        },
    )
    few_shot: bool = field(
        default=True, metadata={"help": "Show the constitution's examples first."}
    )

    @property
    def prompt(self) -> CritiquePrompt:
        return super().prompt

    def _exchange(self, principle, *, prompt: str, response: str) -> list[dict[str, str]]:
        t = self.prompt
        return [
            {"role": "user", "content": t.prompt.format(prompt=prompt)},
            {"role": "assistant", "content": response},
            {
                "role": "user",
                "content": t.critique.format(critique_request=principle.critique_request),
            },
        ]

    def revision_turn(self, principle) -> dict[str, str]:
        return {
            "role": "user",
            "content": self.prompt.revision.format(revision_request=principle.revision_request),
        }

    def critique_messages(
        self, constitution, principle, *, prompt: str, response: str
    ) -> list[dict[str, str]]:
        turns: list[dict[str, str]] = []
        if self.few_shot:
            for ex in constitution.examples_for(principle.id):
                turns += self._exchange(principle, prompt=ex.prompt, response=ex.response) + [
                    {"role": "assistant", "content": ex.critique},
                    self.revision_turn(principle),
                    {"role": "assistant", "content": ex.revision},
                ]
        return turns + self._exchange(principle, prompt=prompt, response=response)

    def revision_messages(
        self, critique_msgs: list[dict[str, str]], principle, critique: str
    ) -> list[dict[str, str]]:
        return critique_msgs + [
            {"role": "assistant", "content": critique},
            self.revision_turn(principle),
        ]

    def preview(
        self,
        prompt: str,
        response: str,
        *,
        critique: str = "<the model's critique>",
        model: str | None = None,
        principles: list | None = None,
    ) -> str:
        """The exact critique prompt, and the revision prompt after ``critique``, for each
        principle (one is drawn per response and round when the step runs); with ``model`` its
        chat template is applied as the local backends do."""
        constitution = self.load_constitution()
        principles = principles if principles is not None else self.select_principles(constitution)
        heads: list[str] = []
        requests: list[GenerationRequest] = []
        for p in principles:
            msgs = self.critique_messages(constitution, p, prompt=prompt, response=response)
            heads += [f"=== principle {p.id}: critique ===", f"=== principle {p.id}: revision ==="]
            requests += [
                GenerationRequest(messages=msgs),
                GenerationRequest(messages=self.revision_messages(msgs, p, critique)),
            ]
        return "\n".join(f"{h}\n{t}" for h, t in zip(heads, render_exact(requests, model)))
