"""Scoring a fixed answer in context: the one way accord reads a choice's log-prob.

A choice (the judge's "A" / "B", or any multi-token answer) is tokenized together with the
text before it, never alone: with a SentencePiece tokenizer (Llama-2, Mistral, Phi-3) "A"
alone encodes as "▁A", which scores "( A" instead of "(A". So the prompt text (chat template
rendered with the assistant prefix) and the prompt text + choice are both tokenized WITHOUT
adding special tokens (the template already wrote BOS, so it appears once), and the choice's
tokens are those after the longest common prefix of the two id lists. A token that merges
across the boundary (e.g. "(" + "A" -> "(A") is thus scored whole, from the position before
it: log P(choice | prompt) is the sum of the log-probs of ``ids[start:]``, each given all
ids before it. The transformers and vLLM backends (and the openai backend when it renders
the template itself) all score the ids this module returns.

>>> common_prefix_length([5, 7, 9, 11], [5, 7, 10, 4])
2
>>> plan = ChoiceTokens(choice="A", ids=[1, 20, 31, 40], start=3)
>>> plan.scored_ids
[40]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.backends.base import BackendError


@dataclass(frozen=True)
class ChoiceTokens:
    """Prompt + choice token ids; ``ids[start:]`` are scored, each given ``ids[:position]``."""

    choice: str
    ids: list[int]
    start: int

    @property
    def scored_ids(self) -> list[int]:
        return self.ids[self.start :]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` with no special tokens added (the template wrote its own)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def choice_tokens(tokenizer, prompt_text: str, choices: Sequence[str]):
    """``(prompt ids, [ChoiceTokens per choice])`` for scoring each choice after ``prompt_text``.

    Raises ``BackendError`` (cause ``input``) for an empty choice list, a choice that adds no
    token, or a prompt with no token before the first scored one."""
    if not choices:
        raise BackendError("choices must list at least one option", cause="input")
    prompt_ids = encode(tokenizer, prompt_text)
    plans = []
    for choice in choices:
        ids = encode(tokenizer, prompt_text + choice)
        start = common_prefix_length(prompt_ids, ids)
        if start >= len(ids):
            raise BackendError(f"choice {choice!r} encodes to no tokens", cause="input")
        if start == 0:
            raise BackendError(
                f"choice {choice!r} merges with the whole prompt; nothing to score it after",
                cause="input",
            )
        plans.append(ChoiceTokens(choice=choice, ids=ids, start=start))
    return prompt_ids, plans
