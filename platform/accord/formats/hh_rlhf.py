"""Anthropic HH-RLHF: JSONL rows ``{"chosen": transcript, "rejected": transcript}``.

A transcript is ``"\\n\\nHuman: …\\n\\nAssistant: …"`` turns. Both sides share the
conversation up to the final assistant turn: the prompt is their longest common prefix
ending at the last ``"\\n\\nAssistant:"`` in it, parsed into user/assistant messages; what
follows on each side is that side's reply (leading white space removed).

>>> from accord.formats.base import ReadOptions
>>> talk = "\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\nHuman: Name a fruit\\n\\nAssistant:"
>>> row = {"chosen": talk + " Apple", "rejected": talk + " No."}
>>> rec = record_from_row(row, ReadOptions())
>>> [m["role"] for m in rec.prompt_messages], rec.chosen, rec.rejected
(['user', 'assistant', 'user'], 'Apple', 'No.')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..store.ingest import PreferenceRecord
from .base import (
    FieldError,
    ReadItem,
    ReadOptions,
    check_text,
    convert_rows,
    iter_json_lines,
    preference_record,
    require,
)
from .conversation import prompt_text

ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_transcript(text: str, field: str) -> list[dict[str, str]]:
    """The turns of ``"\\n\\nHuman: …\\n\\nAssistant: …"`` as chat messages."""
    marks = list(_TURN.finditer(text))
    if not marks or text[: marks[0].start()].strip():
        raise FieldError(field, "not an HH-RLHF transcript (expected '\\n\\nHuman: ...')")
    messages = []
    for mark, nxt in zip(marks, marks[1:] + [None]):
        content = text[mark.end() : nxt.start() if nxt else len(text)].strip()
        if not content:
            raise FieldError(field, f"empty {mark.group(1)} turn")
        messages.append({"role": _ROLES[mark.group(1)], "content": content})
    return messages


def split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(shared prompt ending with '\\n\\nAssistant:', chosen reply, rejected reply)."""
    common = os.path.commonprefix([chosen, rejected])
    cut = common.rfind(ASSISTANT)
    if cut < 0:
        raise FieldError("chosen", "no shared prompt ending at '\\n\\nAssistant:'")
    cut += len(ASSISTANT)
    return chosen[:cut], chosen[cut:].strip(), rejected[cut:].strip()


def record_from_row(row: dict[str, Any], opts: ReadOptions) -> PreferenceRecord:
    chosen_t = check_text(require(row, "chosen"), "chosen")
    rejected_t = check_text(require(row, "rejected"), "rejected")
    prompt, chosen, rejected = split_transcripts(chosen_t, rejected_t)
    if not chosen:
        raise FieldError("chosen", "empty reply after the shared prompt")
    if not rejected:
        raise FieldError("rejected", "empty reply after the shared prompt")
    messages = parse_transcript(prompt[: -len(ASSISTANT)], "chosen")
    if messages[-1]["role"] != "user":
        raise FieldError("chosen", "the shared prompt must end with a Human turn")
    return preference_record(
        opts,
        prompt=prompt_text(messages),
        prompt_messages=messages,
        chosen=chosen,
        rejected=rejected,
        chosen_messages=[{"role": "assistant", "content": chosen}],
        rejected_messages=[{"role": "assistant", "content": rejected}],
    )


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    return convert_rows(path, iter_json_lines(path), lambda row: record_from_row(row, opts))
