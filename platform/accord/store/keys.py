"""The natural keys of the store, in one place.

>>> from accord.store.keys import prompt_key, pair_key
>>> prompt_key("Hi") == prompt_key("Hi")
True
>>> pair_key("x", "y") == pair_key("y", "x")
True
"""

from __future__ import annotations

from typing import Any

from ..hashing import content_hash, normalize_text, sha256_hex


def prompt_key(text: str, messages: list[dict[str, Any]] | None = None) -> str:
    """A prompt is what the model saw: its messages when it is a conversation, else its text."""
    return content_hash("prompt", messages if messages else text)


def split_group(text: str) -> str:
    """Prompts equal after normalization share a split group (leak-free splits)."""
    return sha256_hex(normalize_text(text))


def response_key(prompt_hash: str, text: str, *, role: str = "initial", parent_hash: str = "",
                 model_id: str = "") -> str:
    return content_hash("response", prompt_hash, role, parent_hash, model_id, text)


def canonical_sides(hash_x: str, hash_y: str) -> tuple[str, str]:
    """(x, y) and (y, x) are one pair: response_a is the one whose hash sorts first."""
    return (hash_x, hash_y) if hash_x <= hash_y else (hash_y, hash_x)


def pair_key(hash_x: str, hash_y: str) -> str:
    a, b = canonical_sides(hash_x, hash_y)
    return content_hash("pair", a, b)


def judgment_key(pair_hash: str, judge: str, *, presentation_order: str = "", principle: str = "",
                 constitution_hash: str = "") -> str:
    return content_hash("judgment", pair_hash, judge, presentation_order, principle, constitution_hash)
