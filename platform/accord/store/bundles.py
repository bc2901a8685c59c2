"""What the store's write path takes: a :class:`StoreBundle` is one pair with everything it
needs, as rows keyed by content hash — the prompt, both responses and their ancestors
(critique and revision parents), the judgments with their earlier values, and the
constitution versions they refer to. Ids are resolved when ``accord.store.ingest`` writes it.

Readers of simple preference data produce a :class:`PreferenceRecord` (a prompt, chosen,
rejected and the judgments saying so); ``bundle_from_preference`` turns it into a bundle.

>>> rec = PreferenceRecord(prompt="2+2?", chosen="4", rejected="5", source="doc")
>>> bundle = bundle_from_preference(rec)
>>> len(bundle.responses), bundle.judgments[0]["judge"], bundle.judgments[0]["kind"]
(2, 'import:doc', 'human')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from .crud.judgments import preferred_from_prob, validate_judgment_values
from .crud.prompts import prompt_row
from .keys import (
    judgment_key_head,
    judgment_key_under,
    pair_key,
    response_key_head,
    response_key_under,
)
from .models._base import utcnow
from .text import check_store_json, check_store_text

# The columns a bundle's rows carry (ids and links are resolved on write).
PROMPT_FIELDS = ("text", "source", "content_hash", "split_group", "messages", "meta", "created_at")
RESPONSE_FIELDS = (
    "text",
    "role",
    "model_id",
    "backend",
    "content_hash",
    "sampling_params",
    "usage",
    "messages",
    "principle",
    "round",
    "job_id",
    "raw_output",
    "finish_reason",
    "cache_key",
    "created_at",
)
JUDGMENT_FIELDS = (
    "kind",
    "judge",
    "principle",
    "presentation_order",
    "preferred",
    "prob_a",
    "strength",
    "rationale",
    "status",
    "is_aggregate",
    "key_hash",
    "judge_backend",
    "constitution_hash",
    "raw_output",
    "source",
    "external_id",
    "job_id",
    "meta",
    "created_at",
    "updated_at",
)
_RATIONALE, _RAW_OUTPUT = itemgetter("rationale"), itemgetter("raw_output")


@dataclass
class StoreBundle:
    """One pair and what it needs, as store rows keyed by content hash.

    - ``prompt``: the ``PROMPT_FIELDS`` of a prompt row;
    - ``responses``: ``RESPONSE_FIELDS`` plus ``parent_hash`` (``""`` for none) and
      ``constitution_hash``; parents come before their children;
    - ``pair``: ``a``, ``b`` (canonical response hashes), ``content_hash``, ``source``,
      ``job_id``, ``created_at``;
    - ``judgments``: ``JUDGMENT_FIELDS`` plus ``annotator`` (``{"username", "source",
      "external_id", "is_gold"}`` or None) and ``history`` (earlier answers, oldest first:
      ``preferred``, ``prob_a``, ``strength``, ``rationale``, ``status``, ``valid_from``,
      ``replaced_at``);
    - ``constitutions``: versions the rows refer to (``name``, ``version``, ``content_hash``,
      ``text``, ``description``), stored first so that responses and judgments link to them.
    """

    prompt: dict[str, Any]
    responses: list[dict[str, Any]]
    pair: dict[str, Any]
    judgments: list[dict[str, Any]] = field(default_factory=list)
    constitutions: list[dict[str, Any]] = field(default_factory=list)

    def text_size(self) -> int:
        """Characters of text held (what dominates a bundle's memory)."""
        size = len(self.prompt["text"])
        for r in self.responses:
            size += len(r["text"])
        judgments = self.judgments
        if judgments:  # texts that are set (map, filter and sum run in C)
            size += sum(map(len, filter(None, map(_RATIONALE, judgments)))) + sum(
                map(len, filter(None, map(_RAW_OUTPUT, judgments)))
            )
        return size


@dataclass
class JudgmentSpec:
    """One label on a pair, with sides given as chosen/rejected of the record (not a/b)."""

    kind: str = "human"
    judge: str = ""
    prob_chosen: float | None = None  # P(chosen ≻ rejected); None: a hard label
    tie: bool = False
    presentation_order: str = ""  # "" | "chosen_first" | "rejected_first" | "ab" | "ba"
    principle: str = ""
    constitution_hash: str = ""
    strength: int | None = None
    rationale: str | None = None
    raw_output: str | None = None
    status: str = "submitted"
    is_aggregate: bool = False
    annotator: str | None = None
    external_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreferenceRecord:
    """A prompt, two responses and the judgments saying which is better."""

    prompt: str
    chosen: str
    rejected: str
    prompt_messages: list[dict[str, Any]] | None = None
    chosen_messages: list[dict[str, Any]] | None = None
    rejected_messages: list[dict[str, Any]] | None = None
    chosen_model: str = ""
    rejected_model: str = ""
    source: str = ""
    prompt_meta: dict[str, Any] = field(default_factory=dict)
    judgments: list[JudgmentSpec] | None = None
    # Shorthand for one judgment when ``judgments`` is None:
    kind: str = "human"
    judge: str = ""
    prob_chosen: float | None = None
    tie: bool = False

    def all_judgments(self) -> list[JudgmentSpec]:
        if self.judgments is not None:
            return self.judgments
        return [
            JudgmentSpec(
                kind=self.kind,
                judge=self.judge or f"import:{self.source}",
                prob_chosen=self.prob_chosen,
                tie=self.tie,
            )
        ]


def _initial_response(
    text: str, messages, model: str, key_head: bytes, job_id: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "text": text,
        "role": "initial",
        "model_id": model,
        "backend": "import",
        "content_hash": response_key_under(key_head, text, model_id=model),
        "sampling_params": {},
        "usage": {},
        "messages": messages,
        "principle": "",
        "round": 0,
        "job_id": job_id,
        "raw_output": None,
        "finish_reason": None,
        "cache_key": None,
        "created_at": now,
        "parent_hash": "",
        "constitution_hash": "",
    }


_ORDER_OF_CHOSEN_FIRST = {True: "ab", False: "ba"}
_SPEC_ORDERS = {"chosen_first": True, "rejected_first": False}


def judgment_from_spec(
    spec: JudgmentSpec,
    *,
    chosen_is_a: bool,
    pair_hash: str,
    source: str,
    job_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The judgment row of ``spec`` in canonical sides (ValueError when it is invalid)."""
    return _judgment_row(
        spec, chosen_is_a, judgment_key_head(pair_hash), _record_judgment(source, job_id, now)
    )


# A judgment row's keys, in order. Rows are copies of a record's template (its source, job
# and timestamps set once) with the rest filled in: copying a dict costs about half of
# building one of this size from a literal, for every judgment an import writes.
_JUDGMENT_ROW = {**dict.fromkeys(JUDGMENT_FIELDS), "annotator": None, "history": ()}


def _record_judgment(source: str, job_id: int | None, now: datetime) -> dict[str, Any]:
    """The template of a record's judgment rows: what all of them share."""
    template = _JUDGMENT_ROW.copy()
    template["source"] = source
    template["job_id"] = job_id
    template["created_at"] = template["updated_at"] = now
    return template


def _judgment_row(
    spec: JudgmentSpec, chosen_is_a: bool, key_head: bytes, template: dict[str, Any]
) -> dict[str, Any]:
    """``judgment_from_spec`` with the pair's key head and the record's template computed
    once for all its judgments."""
    prob = spec.prob_chosen
    if spec.tie:
        prob_a, preferred = 0.5, "tie"
    elif prob is None:
        prob_a, preferred = None, ("a" if chosen_is_a else "b")
    else:
        prob_a = prob if chosen_is_a else 1.0 - prob
        preferred = preferred_from_prob(prob_a)
    status = spec.status
    if status == "discarded":
        preferred = None
    order = spec.presentation_order
    if order in _SPEC_ORDERS:
        order = _ORDER_OF_CHOSEN_FIRST[_SPEC_ORDERS[order] == chosen_is_a]
    kind = spec.kind
    validate_judgment_values(
        kind=kind, preferred=preferred, prob_a=prob_a, presentation_order=order, status=status
    )
    principle, constitution_hash, annotator = spec.principle, spec.constitution_hash, spec.annotator
    judge = spec.judge or annotator or f"import:{template['source']}"
    row = template.copy()
    row["kind"] = kind
    row["judge"] = judge
    row["principle"] = principle
    row["presentation_order"] = order
    row["preferred"] = preferred
    row["prob_a"] = prob_a
    row["strength"] = spec.strength
    row["rationale"] = spec.rationale
    row["status"] = status
    row["is_aggregate"] = spec.is_aggregate
    row["key_hash"] = judgment_key_under(key_head, judge, kind, order, principle, constitution_hash)
    row["judge_backend"] = "import" if kind == "ai" else ""
    row["constitution_hash"] = constitution_hash
    row["raw_output"] = spec.raw_output
    row["external_id"] = spec.external_id
    row["meta"] = spec.meta
    if annotator:
        row["annotator"] = {"username": annotator, "source": "import"}
    return row


def bundle_from_preference(
    rec: PreferenceRecord, *, job_id: int | None = None, now: datetime | None = None
) -> StoreBundle:
    """The rows of ``rec`` (ValueError when they are invalid). ``now``: the creation time
    to record (one shared object per batch is converted once on write)."""
    now = now or utcnow()
    prompt = prompt_row(
        text=rec.prompt, source=rec.source, messages=rec.prompt_messages, meta=rec.prompt_meta
    )
    prompt["created_at"] = now
    head = response_key_head(prompt["content_hash"])
    chosen = _initial_response(rec.chosen, rec.chosen_messages, rec.chosen_model, head, job_id, now)
    rejected = _initial_response(
        rec.rejected, rec.rejected_messages, rec.rejected_model, head, job_id, now
    )
    hc, hr = chosen["content_hash"], rejected["content_hash"]
    if hc == hr:
        raise ValueError("chosen and rejected are the same response")
    chosen_is_a = hc < hr
    pk = pair_key(hc, hr)
    pair = {
        "a": hc if chosen_is_a else hr,
        "b": hr if chosen_is_a else hc,
        "content_hash": pk,
        "source": rec.source,
        "job_id": job_id,
        "created_at": now,
    }
    key_head = judgment_key_head(pk)
    template = _record_judgment(rec.source, job_id, now)
    judgments = [
        _judgment_row(spec, chosen_is_a, key_head, template) for spec in rec.all_judgments()
    ]
    bundle = StoreBundle(
        prompt=prompt, responses=[chosen, rejected], pair=pair, judgments=judgments
    )
    check_bundle_texts(bundle)
    return bundle


def check_bundle_texts(bundle: StoreBundle) -> StoreBundle:
    """``StoreTextError`` (a ValueError naming the field) when a text of ``bundle`` cannot be
    stored on every database: a NUL character or a lone surrogate."""
    check_store_text(bundle.prompt["text"], field="prompt")
    if bundle.prompt.get("meta"):
        check_store_json(bundle.prompt["meta"], field="prompt.meta")
    for r in bundle.responses:
        check_store_text(r["text"], field=f"{r.get('role') or 'response'} response")
    for j in bundle.judgments:
        check_store_text(j.get("rationale"), field="rationale")
        check_store_text(j.get("raw_output"), field="raw_output")
        if j.get("meta"):
            check_store_json(j["meta"], field="judgment.meta")
    return bundle
