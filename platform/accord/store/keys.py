"""The natural keys of the store, in one place.

Every key is ``accord.hashing.content_hash`` over the parts that make a row what it is
(length-prefixed SHA-256); the judgment key has a faster path with the same value, because
an import computes one for every judgment it writes.

>>> from accord.store.keys import judgment_key, pair_key, prompt_key
>>> prompt_key("Hi") == prompt_key("Hi")
True
>>> pair_key("x", "y") == pair_key("y", "x")
True
>>> judgment_key("p" * 64, "ann", kind="human") == judgment_key("p" * 64, "ann", kind="ai")
False
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

from ..hashing import content_hash, normalize_text, sha256_hex
from .models.judgment import KINDS


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


def _part(value: str) -> bytes:
    """One length-prefixed part, exactly as ``content_hash`` encodes a string."""
    data = value.encode("utf-8")
    return b"%d:%b" % (len(data), data)


_JUDGMENT_HEAD = _part("judgment")
# The encoded tail of a judge identity: an import has a handful of distinct identities
# (judge × kind × order × principle × constitution) and hashes each of them thousands of times.
_identity_tails: dict[tuple[str, str, str, str, str], bytes] = {}


def judgment_key(pair_hash: str, judge: str, *, kind: str, presentation_order: str = "",
                 principle: str = "", constitution_hash: str = "") -> str:
    """The natural key of a judgment: ``content_hash("judgment", pair_hash, judge, kind,
    presentation_order, principle, constitution_hash)``.

    The kind is part of it: a human annotator and a model judge with the same name are two
    judge identities (``accord.store.ingest`` refuses to store both on one pair, which would
    relabel one as the other).
    """
    identity = (judge, kind, presentation_order, principle, constitution_hash)
    tail = _identity_tails.get(identity)
    if tail is None:
        if kind not in KINDS:
            raise ValueError(f"judgment kind must be one of {KINDS}, got {kind!r}")
        if not all(isinstance(p, str) for p in identity):
            raise TypeError(f"judgment key parts must be strings, got {identity!r}")
        tail = b"".join(map(_part, identity))
        if len(_identity_tails) >= 100_000:  # bounded: a long-lived process sees many judges
            _identity_tails.clear()
        _identity_tails[identity] = tail
    return sha256(_JUDGMENT_HEAD + _part(pair_hash) + tail).hexdigest()
