"""The layout of an accord pair in Argilla: fields, questions, metadata, record ids, A/B order.

A record shows the prompt and the pair's two responses as ``response_a`` and ``response_b``.
Which canonical side is shown first is decided per record by a hash of the pair (and a seed),
so half the pairs appear swapped and position bias cancels out; the order is kept in the
record's metadata (``shown_order``) and in the store (``argilla_record.shown_order``). Labels
read back are mapped to canonical sides with :func:`to_canonical`.

>>> shown_order("0" * 64, seed=0) in ("ab", "ba")
True
>>> to_canonical("a", "ba"), to_canonical("b", "ba"), to_canonical("tie", "ba")
('b', 'a', 'tie')
>>> record_external_id(42)
'accord-pair-42'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...hashing import content_hash

if TYPE_CHECKING:
    import argilla as rg

FIELDS = ("prompt", "response_a", "response_b")
PREFERENCE = "preference"
PREFERENCE_LABELS = {
    "a": "Response A is better",
    "b": "Response B is better",
    "tie": "Equally good (or equally bad)",
}
STRENGTH = "strength"
STRENGTH_VALUES = (1, 2, 3)  # slightly / clearly / much better
RATIONALE = "rationale"
METADATA_PAIR_ID = "accord_pair_id"
METADATA_ORDER = "shown_order"
METADATA_PROMPT_SOURCE = "prompt_source"
METADATA_PAIR_SOURCE = "pair_source"
METADATA_JOB_ID = "job_id"
METADATA_PRIORITY = "accord_priority"  # see accord.feedback.argilla.priority
PRIORITY_TITLE = "priority (sort descending: most informative first)"
RECORD_PREFIX = "accord-pair-"
ORDERS = ("ab", "ba")

DEFAULT_GUIDELINES = """\
# Which response is better?

Each record shows a **prompt** and two responses, **A** and **B**. Read the prompt, read both
responses, then answer:

- **preference**: `a` if response A is better, `b` if response B is better, `tie` only when
  you truly cannot prefer one (both equally good or equally bad).
- **strength** (optional): 1 = slightly better, 2 = clearly better, 3 = much better.
- **rationale** (optional): one or two sentences saying why.

Judge the responses, not their position: the order of A and B is shuffled per record.
Use **Discard** for records you cannot judge (broken text, a language you do not read);
discarded records are recorded as such and never count as a label.
"""


def record_external_id(pair_id: int) -> str:
    """The Argilla record id of a pair: stable, so pushing again updates the same record."""
    return f"{RECORD_PREFIX}{pair_id}"


def shown_order(pair_hash: str, *, seed: int = 0) -> str:
    """'ab' (canonical a shown as A) or 'ba' (swapped), a fixed coin flip per pair and seed."""
    return ORDERS[int(content_hash("argilla-order", seed, pair_hash)[:8], 16) % 2]


def to_canonical(label: str, order: str) -> str:
    """The canonical side of a label given as shown (swapping is its own inverse)."""
    if order not in ORDERS:
        raise ValueError(f"shown order must be one of {ORDERS}, got {order!r}")
    if order == "ab" or label == "tie":
        return label
    return {"a": "b", "b": "a"}[label]


to_shown = to_canonical  # canonical side -> the label it appears under


def guidelines_from_constitution(name_or_path: str | Path) -> str:
    """Annotator guidelines: the default instructions plus the constitution's questions."""
    from ...constitutions import load_constitution

    constitution = load_constitution(name_or_path)
    lines = [DEFAULT_GUIDELINES, f"## Principles ({constitution.name} {constitution.version})", ""]
    if constitution.description:
        lines += [constitution.description.strip(), ""]
    for principle in constitution.principles:
        lines.append(f"- **{principle.id}**: {principle.comparison_question.strip()}")
    return "\n".join(lines) + "\n"


def guidelines_from_file(path: str | Path) -> str:
    """Guidelines from a text or Markdown file, used verbatim."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read guidelines: {exc.strerror or exc}") from exc
    if not text.strip():
        raise ValueError(f"{path}: guidelines file is empty")
    return text


def dataset_settings(
    *,
    min_submitted: int = 1,
    guidelines: str | None = None,
    with_strength: bool = True,
    with_rationale: bool = True,
) -> rg.Settings:
    """Argilla settings of a pair-labelling dataset (every metadata key is declared)."""
    import argilla as rg

    if min_submitted < 1:
        raise ValueError(f"min_submitted must be at least 1, got {min_submitted}")
    questions: list = [
        rg.LabelQuestion(
            name=PREFERENCE,
            title="Which response is better?",
            labels=PREFERENCE_LABELS,
            required=True,
        ),
    ]
    if with_strength:
        questions.append(
            rg.RatingQuestion(
                name=STRENGTH,
                title="How much better? (1 slightly, 2 clearly, 3 much)",
                values=list(STRENGTH_VALUES),
                required=False,
            )
        )
    if with_rationale:
        questions.append(
            rg.TextQuestion(
                name=RATIONALE, title="Why? (optional)", required=False, use_markdown=False
            )
        )
    return rg.Settings(
        guidelines=guidelines or DEFAULT_GUIDELINES,
        fields=[
            rg.TextField(name="prompt", title="Prompt", use_markdown=True),
            rg.TextField(name="response_a", title="Response A", use_markdown=True),
            rg.TextField(name="response_b", title="Response B", use_markdown=True),
        ],
        questions=questions,
        metadata=[
            rg.IntegerMetadataProperty(name=METADATA_PAIR_ID, title="accord pair id"),
            rg.TermsMetadataProperty(
                name=METADATA_ORDER,
                options=list(ORDERS),
                title="shown order",
                visible_for_annotators=False,
            ),
            rg.TermsMetadataProperty(name=METADATA_PROMPT_SOURCE, title="prompt source"),
            rg.TermsMetadataProperty(name=METADATA_PAIR_SOURCE, title="pair source"),
            rg.IntegerMetadataProperty(name=METADATA_JOB_ID, title="accord job id"),
            rg.FloatMetadataProperty(name=METADATA_PRIORITY, title=PRIORITY_TITLE),
        ],
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        allow_extra_metadata=False,
    )
