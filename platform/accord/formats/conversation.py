"""Splitting a shared prompt off two completions, for text and for message lists.

Preference datasets often store the whole conversation on each side ("implicit prompt"):
the prompt is what both sides share, the responses are what differs.

>>> hi = {"role": "user", "content": "Hi"}
>>> split_messages([hi, {"role": "assistant", "content": "Hello!"}],
...                [hi, {"role": "assistant", "content": "Go away."}])[0]
[{'role': 'user', 'content': 'Hi'}]
>>> split_text("The sky is blue.", "The sky is green.")
('The sky is', ' blue.', ' green.')
"""

from __future__ import annotations

import os
from typing import Any

from ..store.crud.prompts import render_messages
from .base import FieldError

Messages = list[dict[str, Any]]


def prompt_text(messages: Messages) -> str:
    """The plain text stored for a chat prompt (the store's own rendering)."""
    return render_messages(messages)


def completion_text(messages: Messages) -> str:
    """A response's text: the reply itself, or every turn rendered when there are several."""
    if len(messages) == 1:
        return messages[0]["content"]
    return render_messages(messages)


def split_messages(chosen: Messages, rejected: Messages) -> tuple[Messages, Messages, Messages]:
    """(prompt, chosen completion, rejected completion): the longest common run of messages
    is the prompt, the rest of each side its completion."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n == 0:
        raise FieldError(
            "chosen",
            "no shared prompt: chosen and rejected start differently (give a 'prompt' field)",
        )
    if n == len(chosen):
        raise FieldError("chosen", "no completion after the shared prompt")
    if n == len(rejected):
        raise FieldError("rejected", "no completion after the shared prompt")
    return chosen[:n], chosen[n:], rejected[n:]


def split_text(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen completion, rejected completion) of two texts sharing a prompt: the
    longest common prefix, cut back to the last white space so no word is split."""
    n = len(os.path.commonprefix([chosen, rejected]))
    if n < min(len(chosen), len(rejected)):
        while n > 0 and not chosen[n - 1].isspace() and not chosen[n].isspace():
            n -= 1
        while n > 0 and chosen[n - 1].isspace():
            n -= 1
    prompt = chosen[:n]
    if not prompt.strip():
        raise FieldError(
            "chosen",
            "no shared prompt: chosen and rejected start differently (give a 'prompt' field)",
        )
    if not chosen[n:].strip():
        raise FieldError("chosen", "no completion after the shared prompt")
    if not rejected[n:].strip():
        raise FieldError("rejected", "no completion after the shared prompt")
    return prompt, chosen[n:], rejected[n:]
