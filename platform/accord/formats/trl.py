"""TRL preference format: ``prompt`` / ``chosen`` / ``rejected``, one JSON object a line.

All four shapes of TRL's preference datasets are read:

- standard, explicit prompt: ``{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}``
- standard, implicit prompt: ``{"chosen": "The sky is blue.", "rejected": "The sky is green."}``
  (the prompt is the shared prefix, cut at white space)
- conversational, explicit: ``{"prompt": [{"role": "user", "content": "..."}],
  "chosen": [{"role": "assistant", "content": "..."}], "rejected": [...]}``
- conversational, implicit: whole conversations on each side; the shared messages are the prompt.

Optional per-row fields: ``prob_chosen`` (also read as ``prob``, ``soft_label``,
``label_strength`` or ``score``): P(chosen ≻ rejected) in [0, 1], stored as a soft label;
``tie`` (bool); ``annotator`` (who labelled the row; becomes the judge); ``chosen_model`` /
``rejected_model`` (the generators).

>>> from accord.formats.base import ReadOptions
>>> rec = record_from_row({"prompt": "2+2?", "chosen": "4", "rejected": "5", "score": 0.9},
...                       ReadOptions(source="doc"))
>>> rec.prompt, rec.chosen, rec.judgments[0].prob_chosen, rec.judgments[0].judge
('2+2?', '4', 0.9, 'import:doc')
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..store.ingest import PreferenceRecord
from .base import (
    MAX_ANNOTATOR_CHARS,
    MAX_MODEL_CHARS,
    FieldError,
    ReadItem,
    ReadOptions,
    check_messages,
    check_text,
    convert_rows,
    iter_json_lines,
    optional_number,
    optional_str,
    preference_record,
    probability,
    require,
)
from .conversation import completion_text, prompt_text, split_messages, split_text

SOFT_LABEL_FIELDS = ("prob_chosen", "prob", "soft_label", "label_strength", "score")


def sides_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Prompt and both responses of a TRL-shaped row, as text plus messages when chat."""
    chosen_raw, rejected_raw = require(row, "chosen"), require(row, "rejected")
    prompt_raw = row.get("prompt")
    if isinstance(chosen_raw, list) or isinstance(rejected_raw, list):
        chosen_msgs = check_messages(chosen_raw, "chosen")
        rejected_msgs = check_messages(rejected_raw, "rejected")
        if prompt_raw is None or (
            isinstance(prompt_raw, str) and chosen_msgs[0]["role"] != "assistant"
        ):
            # The sides hold whole conversations (implicit prompt, or UltraFeedback's layout
            # where a prompt column repeats the first user turn): the shared turns are the prompt.
            if prompt_raw is not None:
                check_text(prompt_raw, "prompt")
            prompt_msgs, chosen_msgs, rejected_msgs = split_messages(chosen_msgs, rejected_msgs)
        elif isinstance(prompt_raw, str):
            prompt_msgs = [{"role": "user", "content": check_text(prompt_raw, "prompt")}]
        else:
            prompt_msgs = check_messages(prompt_raw, "prompt")
            chosen_msgs, rejected_msgs = _drop_prefix(prompt_msgs, chosen_msgs, rejected_msgs)
        return {
            "prompt": prompt_text(prompt_msgs),
            "prompt_messages": prompt_msgs,
            "chosen": completion_text(chosen_msgs),
            "chosen_messages": chosen_msgs,
            "rejected": completion_text(rejected_msgs),
            "rejected_messages": rejected_msgs,
        }
    chosen, rejected = check_text(chosen_raw, "chosen"), check_text(rejected_raw, "rejected")
    if prompt_raw is None:
        prompt, chosen, rejected = split_text(chosen, rejected)
    else:
        prompt = check_text(prompt_raw, "prompt")
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def _drop_prefix(prompt: list, chosen: list, rejected: list) -> tuple[list, list]:
    n = len(prompt)
    if len(chosen) > n and len(rejected) > n and chosen[:n] == prompt and rejected[:n] == prompt:
        return chosen[n:], rejected[n:]
    return chosen, rejected


def soft_label(row: dict[str, Any]) -> float | None:
    for name in SOFT_LABEL_FIELDS:
        value = optional_number(row, name)
        if value is not None:
            return probability(value, name)
    return None


def optional_bool(row: dict[str, Any], name: str) -> bool:
    value = row.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FieldError(name, f"must be true or false, got {type(value).__name__}")
    return value


def record_from_row(row: dict[str, Any], opts: ReadOptions) -> PreferenceRecord:
    sides = sides_from_row(row)
    return preference_record(
        opts,
        **sides,
        prob_chosen=soft_label(row),
        tie=optional_bool(row, "tie"),
        annotator=optional_str(row, "annotator", max_chars=MAX_ANNOTATOR_CHARS),
        chosen_model=optional_str(row, "chosen_model", max_chars=MAX_MODEL_CHARS),
        rejected_model=optional_str(row, "rejected_model", max_chars=MAX_MODEL_CHARS),
    )


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    return convert_rows(path, iter_json_lines(path), lambda row: record_from_row(row, opts))
