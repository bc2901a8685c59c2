"""Rankings of K responses, one JSON object a line (``accord import --format ranking``)::

    {"prompt": "Name a colour", "responses": ["red", "car", "blue", "sky"],
     "ranking": [1, 4, 1, 3], "annotator": "ann"}

- ``prompt``: text, or chat messages (``[{"role": "user", "content": "..."}]``).
- ``responses``: K = 2 to 16 different, non-empty texts.
- ``ranking``: the rank of each response, in the order of ``responses``: 1 is best, equal
  ranks are ties (any whole numbers ≥ 1: ``[1, 4, 1, 3]`` is stored as ``[1, 3, 1, 2]``).
- optional ``annotator``: who ranked (the judge; default ``import:<source>``);
  ``shown_order``: indices into ``responses`` in the order the ranker saw them (a
  permutation of 0..K-1); ``models``: the generator of each response.

Each ranking is stored as such and expanded into its (K choose 2) pairwise judgments
(``accord.store.crud.rankings``).

>>> from accord.formats.base import ReadOptions
>>> rec = record_from_row({"prompt": "Q", "responses": ["x", "y", "z"], "ranking": [2, 1, 2]},
...                       ReadOptions(source="doc"))
>>> rec.judge, rec.ranks, rec.annotator
('import:doc', [2, 1, 2], None)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.models.ranking import MAX_K, MIN_K
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
    optional_str,
    require,
)
from .conversation import prompt_text


@dataclass
class RankingRecord:
    """One imported ranking: the prompt, its K responses and their ranks, who ranked."""

    prompt: str
    responses: list[str]
    ranks: list[int]
    judge: str
    kind: str
    source: str
    annotator: str | None = None
    shown_order: list[int] | None = None
    models: list[str] | None = None
    prompt_messages: list[dict[str, str]] | None = None


def _ranks(value: Any, k: int) -> list[int]:
    if not isinstance(value, list):
        raise FieldError("ranking", "must be a list of ranks, one per response")
    if len(value) != k:
        raise FieldError("ranking", f"{len(value)} ranks for {k} responses")
    out = []
    for i, r in enumerate(value):
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise FieldError("ranking", f"rank {i} must be a whole number ≥ 1, got {r!r}")
        out.append(r)
    return out


def _shown_order(row: dict[str, Any], k: int) -> list[int] | None:
    value = row.get("shown_order")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or any(isinstance(i, bool) or not isinstance(i, int) for i in value)
        or sorted(value) != list(range(k))
    ):
        raise FieldError("shown_order", f"must list each index 0..{k - 1} of responses once")
    return value


def record_from_row(row: dict[str, Any], opts: ReadOptions) -> RankingRecord:
    prompt_raw = require(row, "prompt")
    messages = None
    if isinstance(prompt_raw, list):
        messages = check_messages(prompt_raw, "prompt")
        prompt = prompt_text(messages)
    else:
        prompt = check_text(prompt_raw, "prompt")
    raw = require(row, "responses")
    if not isinstance(raw, list) or not MIN_K <= len(raw) <= MAX_K:
        raise FieldError("responses", f"must be a list of {MIN_K} to {MAX_K} response texts")
    texts = [check_text(t, f"responses[{i}]") for i, t in enumerate(raw)]
    models = row.get("models")
    if models is not None:
        if not isinstance(models, list) or len(models) != len(texts):
            raise FieldError("models", "must list one model id per response")
        models = [optional_str({"models": m}, "models", max_chars=MAX_MODEL_CHARS) for m in models]
    keys = list(zip(texts, models or [""] * len(texts)))
    if len(set(keys)) != len(keys):
        raise FieldError("responses", "a ranking needs K different responses")
    annotator = optional_str(row, "annotator", max_chars=MAX_ANNOTATOR_CHARS) or None
    return RankingRecord(
        prompt=prompt,
        prompt_messages=messages,
        responses=texts,
        ranks=_ranks(require(row, "ranking"), len(texts)),
        judge=annotator or opts.judge,
        kind=opts.label_kind,
        source=opts.source,
        annotator=annotator if opts.label_kind == "human" else None,
        shown_order=_shown_order(row, len(texts)),
        models=models,
    )


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    return convert_rows(path, iter_json_lines(path), lambda row: record_from_row(row, opts))
