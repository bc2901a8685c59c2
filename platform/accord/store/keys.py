"""The natural keys of the store, in one place.

Every key is ``accord.hashing.content_hash`` over the parts that make a row what it is
(length-prefixed SHA-256), computed here with fewer steps than the general function (an
import computes five or more for every record it writes).

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

from ..hashing import canonical_json, normalize_text, sha256_hex
from .models.judgment import KINDS


def _part(value: Any) -> bytes:
    """One length-prefixed part, exactly as ``content_hash`` encodes it."""
    data = (value if value.__class__ is str else canonical_json(value)).encode("utf-8")
    return b"%d:%b" % (len(data), data)


# The keys below are ``content_hash`` of their parts, computed with fewer steps: the leading
# constant parts are encoded once, and the parts that repeat across rows (role, model, judge
# identity) are encoded once per distinct value. ``tests/store/test_ingest.py`` checks that
# they equal ``content_hash``.
_PROMPT_HEAD, _RESPONSE_HEAD, _PAIR_HEAD, _JUDGMENT_HEAD = map(
    _part, ("prompt", "response", "pair", "judgment")
)
_CACHE_LIMIT = 100_000  # distinct repeated parts kept per kind of key (a long-lived process)
_response_middles: dict[tuple[str, str], bytes] = {}
# The encoded tail of a judge identity: an import has a handful of distinct identities
# (judge × kind × order × principle × constitution) and hashes each of them thousands of times.
_identity_tails: dict[tuple[str, str, str, str, str], bytes] = {}


def _remember(cache: dict, key: tuple, value: bytes) -> bytes:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def prompt_key(text: str, messages: list[dict[str, Any]] | None = None) -> str:
    """A prompt is what the model saw: its messages when it is a conversation, else its text."""
    return sha256(_PROMPT_HEAD + _part(messages if messages else text)).hexdigest()


def split_group(text: str) -> str:
    """Prompts equal after normalization share a split group (leak-free splits)."""
    return sha256_hex(normalize_text(text))


def response_key(
    prompt_hash: str, text: str, *, role: str = "initial", parent_hash: str = "", model_id: str = ""
) -> str:
    """``content_hash("response", prompt_hash, role, parent_hash, model_id, text)``."""
    return response_key_under(
        response_key_head(prompt_hash), text, role=role, parent_hash=parent_hash, model_id=model_id
    )


def response_key_head(prompt_hash: str) -> bytes:
    """The encoded parts a prompt's responses share (the responses of one record hash it once)."""
    return _RESPONSE_HEAD + _part(prompt_hash)


def response_key_under(
    head: bytes, text: str, *, role: str = "initial", parent_hash: str = "", model_id: str = ""
) -> str:
    """``response_key`` from the prompt's ``response_key_head``."""
    if parent_hash:
        middle = _part(role) + _part(parent_hash) + _part(model_id)
    else:
        middle = _response_middles.get((role, model_id))
        if middle is None:
            middle = _remember(
                _response_middles, (role, model_id), _part(role) + _part("") + _part(model_id)
            )
    return sha256(head + middle + _part(text)).hexdigest()


def canonical_sides(hash_x: str, hash_y: str) -> tuple[str, str]:
    """(x, y) and (y, x) are one pair: response_a is the one whose hash sorts first."""
    return (hash_x, hash_y) if hash_x <= hash_y else (hash_y, hash_x)


def pair_key(hash_x: str, hash_y: str) -> str:
    """``content_hash("pair", a, b)`` of the canonical sides."""
    a, b = canonical_sides(hash_x, hash_y)
    return sha256(_PAIR_HEAD + _part(a) + _part(b)).hexdigest()


def judgment_key(
    pair_hash: str,
    judge: str,
    *,
    kind: str,
    presentation_order: str = "",
    principle: str = "",
    constitution_hash: str = "",
    ranking_key: str = "",
) -> str:
    """The natural key of a judgment: ``content_hash("judgment", pair_hash, judge, kind,
    presentation_order, principle, constitution_hash)``; a judgment expanded from a ranking
    also has the ranking's key as a last part (``ranking_key``), so that it is the ranking's
    own and never the same row as a pairwise label, or a judgment of another ranking, of the
    same judge on the same pair.

    The kind is part of it: a human annotator and a model judge with the same name are two
    judge identities (``accord.store.ingest`` refuses to store both on one pair, which would
    relabel one as the other).
    """
    key = judgment_key_under(
        judgment_key_head(pair_hash), judge, kind, presentation_order, principle, constitution_hash
    )
    if not ranking_key:
        return key
    identity = (judge, kind, presentation_order, principle, constitution_hash, ranking_key)
    return sha256(judgment_key_head(pair_hash) + b"".join(map(_part, identity))).hexdigest()


def ranking_group_key(prompt_hash: str, response_hashes: list[str]) -> str:
    """The ranked item: ``content_hash("ranking-item", prompt_hash, *sorted response hashes)``
    (every ranker of the same responses shares it)."""
    return sha256(
        b"".join(map(_part, ("ranking-item", prompt_hash, *sorted(response_hashes))))
    ).hexdigest()


def ranking_key(
    group_key: str,
    judge: str,
    *,
    kind: str,
    principle: str = "",
    constitution_hash: str = "",
    method: str = "",
) -> str:
    """The natural key of a ranking: ``content_hash("ranking", group_key, judge, kind,
    principle, constitution_hash)``, with the ranking ``method`` as a last part when it has one
    (an AI judge's Bradley–Terry and listwise rankings of the same responses are two
    readings, both kept; rankings without a method keep the key they always had)."""
    if kind not in KINDS:
        raise ValueError(f"ranking kind must be one of {KINDS}, got {kind!r}")
    parts = ("ranking", group_key, judge, kind, principle, constitution_hash)
    if method:
        parts += (method,)
    return sha256(b"".join(map(_part, parts))).hexdigest()


def judgment_key_head(pair_hash: str) -> bytes:
    """The encoded parts the judgments of one pair share (hashed once per pair)."""
    return _JUDGMENT_HEAD + _part(pair_hash)


def judgment_key_under(
    head: bytes,
    judge: str,
    kind: str,
    presentation_order: str,
    principle: str,
    constitution_hash: str,
) -> str:
    """``judgment_key`` from the pair's ``judgment_key_head`` (positional: it runs for every
    judgment an import writes)."""
    identity = (judge, kind, presentation_order, principle, constitution_hash)
    tail = _identity_tails.get(identity)
    if tail is None:
        if kind not in KINDS:
            raise ValueError(f"judgment kind must be one of {KINDS}, got {kind!r}")
        tail = _remember(_identity_tails, identity, b"".join(map(_part, identity)))
    return sha256(head + tail).hexdigest()
