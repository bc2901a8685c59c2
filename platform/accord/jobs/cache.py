"""The content-addressed cache: one entry per backend call, keyed by everything that
determined its output (step, model, backend, messages, sampling parameters, seed).

Entries are written in the same transaction as the rows their output produced, so the cache
and the store never disagree: after a crash, a request is either fully done (entry + rows) or
not started.

>>> from accord.backends.base import GenerationRequest
>>> req = GenerationRequest(messages=[{"role": "user", "content": "hi"}], seed=1)
>>> k1 = cache_key(step="generate", model_id="m", backend="transformers", request=req)
>>> req.seed = 2
>>> k1 == cache_key(step="generate", model_id="m", backend="transformers", request=req)
False
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..backends.base import GenerationRequest, GenerationResult
from ..backends.decoding import SAMPLER
from ..hashing import content_hash
from ..store.bulk import insert_ignore
from ..store.models import CacheEntry
from ..store.models._base import utcnow


def cache_key(*, step: str, model_id: str, backend: str, request: GenerationRequest) -> str:
    payload = request.cache_payload()
    if backend == "transformers" and request.temperature > 0 and request.choices is None:
        # accord samples these itself: the same seed gives other tokens under another sampler
        payload["sampler"] = SAMPLER
    return content_hash("cache", step, model_id, backend, payload)


def cached_results(session: Session, keys: list[str]) -> dict[str, GenerationResult]:
    """The stored results among ``keys`` (one query per 5,000 keys)."""
    out: dict[str, GenerationResult] = {}
    unique = list(dict.fromkeys(keys))
    for i in range(0, len(unique), 5000):
        chunk = unique[i : i + 5000]
        rows = session.execute(
            select(CacheEntry.key, CacheEntry.output).where(CacheEntry.key.in_(chunk))
        )
        for key, output in rows:
            out[key] = GenerationResult.from_dict(output["result"])
    return out


def cache_row(
    *,
    key: str,
    step: str,
    model_id: str,
    backend: str,
    request: GenerationRequest,
    result: GenerationResult,
    job_id: int | None,
) -> dict[str, Any]:
    result_dict = result.to_dict()
    result_dict["raw"] = None  # provider payloads can be large; the parsed fields are enough
    return {
        "key": key,
        "step": step,
        "model_id": model_id,
        "backend": backend,
        "request": request.cache_payload(),
        "output": {"result": result_dict},
        "job_id": job_id,
        "created_at": utcnow(),
    }


def store_cache_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    return insert_ignore(session, CacheEntry.__table__, rows, key="key")
