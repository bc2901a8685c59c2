"""What every constitution-driven task shares: a constitution, the principles to use, a prompt
template file and the folder relative paths are read from.

``ConstitutionTask`` is the base of the pairwise judge (``accord.rlaif.judge_task.JudgeTask``),
the listwise ranker (``accord.rlaif.listwise.ListwiseTask``) and critique → revision
(``accord.rlaif.critique_task.CritiqueReviseTask``); ``AnsweredTask`` adds the answer prefix the
two judges read their labels after. A subclass names its template model and kind and sets the
``template`` default.

>>> from accord.rlaif.judge_task import JudgeTask
>>> task = JudgeTask(constitution="tiny-test", principles=["helpful"])
>>> [p.id for p in task.load_principles()], task.prefix
(['helpful'], 'The answer is: (')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from .prompt_files import load_prompt


@dataclass(kw_only=True)
class ConstitutionTask:
    """A constitution's principles asked through a prompt template file."""

    # The template file's model and kind (for the error message of a bad name).
    prompt_model: ClassVar[type[BaseModel]]
    prompt_kind: ClassVar[str]

    constitution: str = field(
        default="harmlessness",
        metadata={
            "help": "Constitution whose principles the task uses (bundled name or YAML path)."
        },
    )
    principles: list[str] | None = field(
        default=None,
        metadata={"help": "Principle ids to use (default: all of the constitution's)."},
    )
    template: str = field(
        default="",
        metadata={"help": "Prompt template: a bundled name or a YAML file."},
    )
    base_dir: Path | None = field(
        default=None,
        repr=False,
        compare=False,
        metadata={"help": "Folder a relative template or constitution path is read from."},
    )

    def __post_init__(self) -> None:
        if self.principles is not None and not self.principles:
            raise ValueError("principles must name at least one principle (or be left out for all)")

    @property
    def prompt(self) -> Any:
        return load_prompt(
            self.prompt_model, self.template, kind=self.prompt_kind, base_dir=self.base_dir
        )

    def check(self):
        """Read the template now: a bad file fails naming its file, line and field."""
        _ = self.prompt
        return self

    def load_constitution(self):
        from ..constitutions import load_constitution

        return load_constitution(self.constitution, base_dir=self.base_dir)

    def select_principles(self, constitution) -> list:
        return (
            [constitution.principle(p) for p in self.principles]
            if self.principles
            else list(constitution.principles)
        )

    def load_principles(self) -> list:
        return self.select_principles(self.load_constitution())


@dataclass(kw_only=True)
class AnsweredTask(ConstitutionTask):
    """A task whose labels are read from log-probs after an answer prefix."""

    answer_prefix: str | None = field(
        default=None,
        metadata={"help": "Assistant text the answer is read after (default: the template's)."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.answer_prefix == "":
            raise ValueError("answer_prefix must not be empty (leave it out for the template's)")

    @property
    def prefix(self) -> str:
        return self.answer_prefix or self.prompt.answer_prefix
