"""``ultrafeedback-binarized``: prompt, chosen and rejected message lists, and the judge's
scores of each side (``score_chosen``, ``score_rejected``, 1–10 in the original data).

Labels: by default the dataset's own binarization is kept as a hard label (chosen ≻
rejected, even where both scores are equal) and both scores are kept in the judgment's
``meta``. With ``soft_labels`` the label is the Bradley–Terry probability
σ(score_chosen − score_rejected) on the raw score scale: a 1-point gap gives 0.73, a
3-point gap 0.95, equal scores 0.5 (a tie). UltraFeedback's scores came from GPT-4, so
import it with ``label_kind="ai"`` (``--label-kind ai``) for audits to tell.

>>> from accord.formats.base import ReadOptions
>>> row = {"prompt": "Hi", "chosen": [{"role": "user", "content": "Hi"},
...        {"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "user",
...        "content": "Hi"}, {"role": "assistant", "content": "What?"}],
...        "score_chosen": 8.0, "score_rejected": 7.0}
>>> rec = record_from_row(row, ReadOptions(label_kind="ai", soft_labels=True))
>>> rec.prompt, rec.chosen, round(rec.judgments[0].prob_chosen, 3), rec.judgments[0].kind
('Hi', 'Hello!', 0.731, 'ai')
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..store.ingest import PreferenceRecord
from .base import (
    MAX_MODEL_CHARS,
    FieldError,
    ReadItem,
    ReadOptions,
    convert_rows,
    iter_json_lines,
    optional_number,
    optional_str,
    preference_record,
)
from .trl import sides_from_row


def bradley_terry(score_chosen: float, score_rejected: float) -> float:
    """P(chosen ≻ rejected) = σ(Δ) under a Bradley–Terry model with the scores as strengths."""
    return 1.0 / (1.0 + math.exp(-(score_chosen - score_rejected)))


def record_from_row(row: dict[str, Any], opts: ReadOptions) -> PreferenceRecord:
    sides = sides_from_row(row)
    scores = {}
    for name in ("score_chosen", "score_rejected"):
        value = optional_number(row, name)
        if value is None:
            raise FieldError(name, "missing")
        scores[name] = value
    prob = bradley_terry(**scores) if opts.soft_labels else None
    meta: dict[str, Any] = {}
    if row.get("prompt_id") is not None:
        meta["prompt_id"] = str(row["prompt_id"])
    return preference_record(
        opts,
        **sides,
        prob_chosen=prob,
        prompt_meta=meta,
        judgment_meta=scores,
        chosen_model=optional_str(row, "chosen_model", max_chars=MAX_MODEL_CHARS),
        rejected_model=optional_str(row, "rejected_model", max_chars=MAX_MODEL_CHARS),
    )


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    return convert_rows(path, iter_json_lines(path), lambda row: record_from_row(row, opts))
