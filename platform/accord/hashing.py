"""Content hashes: the natural keys of the store.

Every row that can be imported or generated twice is keyed by a SHA-256 over a canonical
encoding of what makes it what it is, so writing it again finds the existing row.

>>> from accord.hashing import content_hash, normalize_text
>>> content_hash("a", 1) == content_hash("a", 1)
True
>>> normalize_text("  Hello,\\n  WORLD ")
'hello, world'
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace (stable across runs)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def content_hash(*parts: Any) -> str:
    """Hash of several values; a part that is not a string is canonical-JSON encoded.

    Parts are length-prefixed, so no choice of texts can make two different tuples collide
    by shifting a separator (and it is cheap: this runs for every row an import writes).
    """
    h = hashlib.sha256()
    for p in parts:
        b = (p if isinstance(p, str) else canonical_json(p)).encode("utf-8")
        h.update(b"%d:" % len(b))
        h.update(b)
    return h.hexdigest()


def normalize_text(text: str) -> str:
    """Lower case, NFKC, collapsed white space: two prompts equal here are the same prompt
    for split purposes (leak-free train/test splits group on this)."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    # str.split() splits on exactly the characters ``\s`` matches, and several times faster.
    return " ".join(text.split()).lower()
