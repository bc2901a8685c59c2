"""accord's own lossless JSONL: one pair a line, with its prompt, both responses and their
lineage, and every judgment with every field and its history.

A line (only ``prompt``, ``response_a``, ``response_b`` are required; a bare string stands
for ``{"text": ...}``)::

    {"prompt": {"text": "2+2?", "messages": null, "source": "doc", "meta": {}},
     "response_a": {"text": "4", "role": "initial", "model_id": "m", "parent": null, ...},
     "response_b": {"text": "5", ...},
     "pair": {"source": "doc"},
     "judgments": [{"kind": "human", "judge": "ann", "preferred": "a", "prob_a": null,
                    "annotator": {"username": "ann"}, "history": [...], ...}]}

``preferred``/``prob_a``/``presentation_order`` refer to the line's ``response_a``; when a
hand-written line lists the sides the other way round from the store's canonical order they
are flipped on import. ``content_hash``/``key_hash`` fields, when present (the writer puts
them in), are checked against the content: a line edited by hand without updating them is
rejected. ``parent`` nests the response a critique or revision was made from.
``constitutions`` (optional) holds the constitution versions that responses and judgments
refer to by ``constitution_hash``; the writer puts each one on the first line that needs it.
A judgment a ranking expanded into names the ranking's key (``ranking``); the rankings
themselves are lines of their own after the pairs (``accord.formats.accord_rankings``).

>>> from accord.formats.base import ReadOptions
>>> b = bundle_from_line({"prompt": "Q", "response_a": "x", "response_b": "y",
...     "judgments": [{"kind": "ai", "judge": "m", "preferred": "b"}]})
>>> len(b.responses), b.judgments[0]["judge"]
(2, 'm')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..store.bundles import StoreBundle
from ..store.crud.judgments import validate_judgment_values
from ..store.crud.prompts import prompt_row
from ..store.keys import canonical_sides, judgment_key, pair_key, response_key
from ..store.models._base import utcnow
from ..store.models.response import ROLES
from .accord_rankings import RankingLine, legacy_ranking_keys, ranking_from_line
from .base import (
    MAX_ANNOTATOR_CHARS,
    MAX_JUDGE_CHARS,
    MAX_MODEL_CHARS,
    MAX_PRINCIPLE_CHARS,
    MAX_SOURCE_CHARS,
    FieldError,
    ReadItem,
    ReadOptions,
    check_messages,
    check_text,
    convert_rows,
    iter_json_lines,
    optional_number,
    optional_str,
    require,
)

FORMAT_VERSION = 1
_FLIP = {"a": "b", "b": "a", "ab": "ba", "ba": "ab"}


def _obj(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"text": value}
    if not isinstance(value, dict):
        raise FieldError(name, f"must be an object or a string, got {type(value).__name__}")
    return value


def _dict(row: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = row.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(f"{where}.{name}", f"must be an object, got {type(value).__name__}")
    return value


def _int(row: dict[str, Any], name: str, where: str, default: int | None) -> int | None:
    value = row.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"{where}.{name}", f"must be an integer, got {type(value).__name__}")
    return value


def _time(row: dict[str, Any], name: str, where: str) -> datetime:
    value = row.get(name)
    if value is None:
        return utcnow()
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise FieldError(f"{where}.{name}", f"not an ISO date and time: {value!r}") from None


def _s(row: dict[str, Any], name: str, where: str, max_chars: int = 10_000) -> str:
    try:
        return optional_str(row, name, max_chars=max_chars)
    except FieldError as exc:
        raise FieldError(f"{where}.{exc.field}", exc.reason) from None


def _optional_text(row: dict[str, Any], name: str, where: str) -> str | None:
    value = row.get(name)
    if value is not None and not isinstance(value, str):
        raise FieldError(f"{where}.{name}", f"must be a string, got {type(value).__name__}")
    return value


def _check_hash(given: Any, computed: str, where: str) -> None:
    if given not in (None, "") and given != computed:
        raise FieldError(where, "does not match the content (edited without updating it?)")


def _prompt(value: Any) -> dict[str, Any]:
    p = _obj(value, "prompt")
    messages = check_messages(p["messages"], "prompt.messages") if p.get("messages") else None
    text = p.get("text")
    text = check_text(text, "prompt.text") if (text is not None or not messages) else ""
    row = prompt_row(
        text=text,
        source=_s(p, "source", "prompt", MAX_SOURCE_CHARS),
        messages=messages,
        meta=_dict(p, "meta", "prompt"),
    )
    _check_hash(p.get("content_hash"), row["content_hash"], "prompt.content_hash")
    row["created_at"] = _time(p, "created_at", "prompt")
    return row


def _responses(
    value: Any, name: str, prompt_hash: str, out: dict[str, dict], depth: int = 0
) -> str:
    """Add the response (ancestors first) to ``out``; returns its content hash."""
    if depth > 20:
        raise FieldError(name, "lineage deeper than 20 responses")
    r = _obj(value, name)
    parent_hash = ""
    if r.get("parent") is not None:
        parent_hash = _responses(r["parent"], f"{name}.parent", prompt_hash, out, depth + 1)
    role = r.get("role") or "initial"
    if role not in ROLES:
        raise FieldError(f"{name}.role", f"must be one of {ROLES}, got {role!r}")
    text = check_text(r.get("text"), f"{name}.text")
    model_id = _s(r, "model_id", name, MAX_MODEL_CHARS)
    h = response_key(prompt_hash, text, role=role, parent_hash=parent_hash, model_id=model_id)
    _check_hash(r.get("content_hash"), h, f"{name}.content_hash")
    msgs = r.get("messages")
    out.setdefault(
        h,
        {
            "text": text,
            "role": role,
            "model_id": model_id,
            "backend": _s(r, "backend", name, 32),
            "content_hash": h,
            "sampling_params": _dict(r, "sampling_params", name),
            "usage": _dict(r, "usage", name),
            "messages": check_messages(msgs, f"{name}.messages") if msgs else None,
            "principle": _s(r, "principle", name, MAX_PRINCIPLE_CHARS),
            "round": _int(r, "round", name, 0),
            "job_id": None,
            "raw_output": _optional_text(r, "raw_output", name),
            "finish_reason": _s(r, "finish_reason", name, 32) or None,
            "cache_key": _s(r, "cache_key", name, 64) or None,
            "created_at": _time(r, "created_at", name),
            "parent_hash": parent_hash,
            "constitution_hash": _s(r, "constitution_hash", name, 64),
        },
    )
    return h


def _annotator(value: Any, where: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    a = {"username": value} if isinstance(value, str) else value
    if not isinstance(a, dict):
        raise FieldError(where, f"must be a username or an object, got {type(value).__name__}")
    username = _s(a, "username", where, MAX_ANNOTATOR_CHARS)
    if not username:
        raise FieldError(f"{where}.username", "missing")
    return {
        "username": username,
        "source": _s(a, "source", where, 50) or "import",
        "external_id": _s(a, "external_id", where, 100) or None,
        "is_gold": bool(a.get("is_gold", False)),
    }


def _values(j: dict[str, Any], where: str, flip: bool) -> dict[str, Any]:
    """The answer fields of a judgment (or of a history entry), in canonical sides."""
    preferred = j.get("preferred")
    try:
        prob = optional_number(j, "prob_a")
    except FieldError as exc:
        raise FieldError(f"{where}.prob_a", exc.reason) from None
    if flip:
        preferred = _FLIP.get(preferred, preferred)
        prob = None if prob is None else 1.0 - prob
    return {
        "preferred": preferred,
        "prob_a": prob,
        "strength": _int(j, "strength", where, None),
        "rationale": _optional_text(j, "rationale", where),
        "status": j.get("status") or "submitted",
    }


def _checked_values(
    j: dict[str, Any], where: str, flip: bool, *, kind: Any, order: Any
) -> dict[str, Any]:
    try:
        values = _values(j, where, flip)
        validate_judgment_values(
            kind=kind,
            preferred=values["preferred"],
            prob_a=values["prob_a"],
            presentation_order=order,
            status=values["status"],
        )
    except FieldError:
        raise
    except (TypeError, ValueError) as exc:
        raise FieldError(where, str(exc)) from None
    return values


# ReadOptions.extra key: ranking keys of a file written before rankings had a method → new keys
LEGACY_RANKING_KEYS = "legacy_ranking_keys"


def _legacy_keys(opts: ReadOptions | None) -> dict[str, str] | None:
    return opts.extra.get(LEGACY_RANKING_KEYS) if opts is not None else None


def _judgment(
    j: Any,
    where: str,
    pk: str,
    flip: bool,
    pair_source: str,
    upgrade: dict[str, str] | None = None,
) -> dict[str, Any]:
    if not isinstance(j, dict):
        raise FieldError(where, f"must be an object, got {type(j).__name__}")
    kind = j.get("kind")
    if not kind:
        raise FieldError(f"{where}.kind", "missing")
    judge = _s(j, "judge", where, MAX_JUDGE_CHARS)
    if not judge:
        raise FieldError(f"{where}.judge", "missing")
    order = j.get("presentation_order") or ""
    if flip and isinstance(order, str):
        order = _FLIP.get(order, order)
    values = _checked_values(j, where, flip, kind=kind, order=order)
    principle = _s(j, "principle", where, MAX_PRINCIPLE_CHARS)
    chash = _s(j, "constitution_hash", where, 64)
    ranking = _s(j, "ranking", where, 64)
    identity = dict(
        kind=kind, presentation_order=order, principle=principle, constitution_hash=chash
    )
    key = judgment_key(pk, judge, **identity, ranking_key=ranking)
    if not flip:
        _check_hash(j.get("key_hash"), key, f"{where}.key_hash")
    if upgrade and ranking in upgrade:  # its ranking's key gained the method
        ranking = upgrade[ranking]
        key = judgment_key(pk, judge, **identity, ranking_key=ranking)
    history = j.get("history") or []
    if not isinstance(history, list):
        raise FieldError(f"{where}.history", "must be a list")
    past = []
    for i, h in enumerate(history):
        hw = f"{where}.history[{i}]"
        if not isinstance(h, dict):
            raise FieldError(hw, "must be an object")
        past.append(
            {
                **_checked_values(h, hw, flip, kind=kind, order=order),
                "valid_from": _time(h, "valid_from", hw),
                "replaced_at": _time(h, "replaced_at", hw),
            }
        )
    return {
        "kind": kind,
        "judge": judge,
        "principle": principle,
        "presentation_order": order,
        **values,
        "is_aggregate": bool(j.get("is_aggregate", False)),
        "key_hash": key,
        "judge_backend": _s(j, "judge_backend", where, 32),
        "constitution_hash": chash,
        "raw_output": _optional_text(j, "raw_output", where),
        "source": _s(j, "source", where, 300) if "source" in j else pair_source,
        "external_id": _s(j, "external_id", where, 100) or None,
        "job_id": None,
        "meta": _dict(j, "meta", where),
        "created_at": _time(j, "created_at", where),
        "updated_at": _time(j, "updated_at", where),
        "annotator": _annotator(j.get("annotator"), f"{where}.annotator"),
        "history": past,
        "ranking": ranking,
    }


def bundle_from_line(row: dict[str, Any], opts: ReadOptions | None = None) -> StoreBundle:
    prompt = _prompt(require(row, "prompt"))
    responses: dict[str, dict] = {}
    ha = _responses(require(row, "response_a"), "response_a", prompt["content_hash"], responses)
    hb = _responses(require(row, "response_b"), "response_b", prompt["content_hash"], responses)
    if ha == hb:
        raise FieldError("response_b", "identical to response_a (a pair needs two responses)")
    a, b = canonical_sides(ha, hb)
    pk = pair_key(ha, hb)
    pair_in = _dict(row, "pair", "<line>")
    _check_hash(pair_in.get("content_hash"), pk, "pair.content_hash")
    source = (
        _s(pair_in, "source", "pair", MAX_SOURCE_CHARS) if "source" in pair_in else prompt["source"]
    )
    pair = {
        "a": a,
        "b": b,
        "content_hash": pk,
        "source": source,
        "job_id": None,
        "created_at": _time(pair_in, "created_at", "pair"),
    }
    judgments_in = row.get("judgments") or []
    if not isinstance(judgments_in, list):
        raise FieldError("judgments", "must be a list")
    upgrade = _legacy_keys(opts)
    judgments = [
        _judgment(j, f"judgments[{i}]", pk, ha != a, source, upgrade)
        for i, j in enumerate(judgments_in)
    ]
    return StoreBundle(
        prompt=prompt,
        responses=list(responses.values()),
        pair=pair,
        judgments=judgments,
        constitutions=_constitutions(row.get("constitutions")),
    )


def _constitutions(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError("constitutions", "must be a list")
    out = []
    for i, c in enumerate(value):
        where = f"constitutions[{i}]"
        if not isinstance(c, dict):
            raise FieldError(where, "must be an object")
        content_hash = _s(c, "content_hash", where, 64)
        if len(content_hash) != 64:
            raise FieldError(f"{where}.content_hash", "must be a 64-character sha256")
        out.append(
            {
                "name": check_text(c.get("name"), f"{where}.name"),
                "version": check_text(c.get("version"), f"{where}.version"),
                "content_hash": content_hash,
                "text": check_text(c.get("text"), f"{where}.text"),
                "description": _s(c, "description", where),
            }
        )
    return out


def record_from_line(row: Any, opts: ReadOptions | None = None) -> StoreBundle | RankingLine:
    """A pair line's bundle, or a ranking line's ranking (``accord.formats.accord_rankings``)."""
    if isinstance(row, dict) and "ranking" in row and "prompt" not in row:
        return ranking_from_line(row, _legacy_keys(opts))
    return bundle_from_line(row, opts)


def read(path: Path, opts: ReadOptions) -> Iterator[ReadItem]:
    legacy = legacy_ranking_keys(path)
    if legacy:
        opts = replace(opts, extra={**opts.extra, LEGACY_RANKING_KEYS: legacy})
    return convert_rows(path, iter_json_lines(path), lambda row: record_from_line(row, opts))
