"""Derived label arrays shared by the report sections, computed without Python loops over
judgments: human rating units and their majority label, and the final label of each AI
label source on each pair (with its two presentation orders when it judged both).

A human rating unit is a (pair, principle): humans usually answer an overall question
(principle ""), and their answer is the reference an AI principle is compared with unless
humans answered that principle itself.

>>> from accord.store.db import open_store
>>> from accord.audit.loader import load_audit_data
>>> views = AuditViews.build(load_audit_data(open_store("sqlite://")))
>>> len(views.human.unit_pair), len(views.ai.pair)
(0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .loader import AI, HUMAN, AuditData

NO_LABEL = -1
TIE = 2


@dataclass
class HumanUnits:
    """One row per human rating (deduplicated: a rater's last answer on a unit counts)."""

    rating_unit: np.ndarray  # index into unit_* arrays
    rating_source: np.ndarray  # label source (one human rater under one principle)
    rating_rater: np.ndarray  # index into rater_keys (same person across principles)
    rating_label: np.ndarray
    rating_pair: np.ndarray
    unit_pair: np.ndarray
    unit_principle: np.ndarray  # principle code
    value_counts: np.ndarray  # units × 3 (a, b, tie)
    majority: np.ndarray  # per unit: the strict majority label, or NO_LABEL
    rater_keys: np.ndarray  # per rater: the judge name code

    @property
    def n_ratings(self) -> np.ndarray:
        return self.value_counts.sum(axis=1)


@dataclass
class AIFinals:
    """One row per (AI label source, pair): the final label and the per-order labels."""

    source: np.ndarray
    pair: np.ndarray
    label: np.ndarray  # final: the aggregate/unordered judgment, else derived
    prob: np.ndarray  # final P(a) (NaN when no soft label)
    label_ab: np.ndarray  # NO_LABEL when that order was not judged
    label_ba: np.ndarray
    reference: np.ndarray  # the human majority this label is compared with, or NO_LABEL


@dataclass
class AuditViews:
    data: AuditData
    principles: list[str]  # principle code → text
    source_principle: np.ndarray  # per source: principle code
    judge_names: list[str]  # judge code → name
    source_judge: np.ndarray  # per source: judge code
    human: HumanUnits
    ai: AIFinals

    @classmethod
    def build(cls, data: AuditData) -> AuditViews:
        principles, source_principle = np.unique(
            np.array(data.sources.principle + [""], dtype=object), return_inverse=True
        )
        source_principle = source_principle[:-1]
        judge_names, source_judge = np.unique(
            np.array(data.sources.judge + [""], dtype=object), return_inverse=True
        )
        source_judge = source_judge[:-1]
        human = _human_units(data, source_principle, source_judge, len(principles))
        ai = _ai_finals(data, human, source_principle, list(principles).index(""))
        return cls(
            data,
            [str(p) for p in principles],
            source_principle,
            [str(j) for j in judge_names],
            source_judge,
            human,
            ai,
        )


def _last_per_key(keys: np.ndarray) -> np.ndarray:
    """Indices of the last occurrence of each distinct key."""
    rev = keys[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return np.sort(len(keys) - 1 - first_in_rev)


def strict_majority(value_counts: np.ndarray) -> np.ndarray:
    """The label with strictly more votes than any other, else NO_LABEL."""
    if len(value_counts) == 0:
        return np.zeros(0, dtype=np.int64)
    top = value_counts.max(axis=1)
    winner = value_counts.argmax(axis=1)
    unique_top = (value_counts == top[:, None]).sum(axis=1) == 1
    return np.where(unique_top & (top > 0), winner, NO_LABEL)


def _human_units(data: AuditData, source_principle, source_judge, n_principles) -> HumanUnits:
    rows = np.flatnonzero(data.kind == HUMAN)
    n_sources = max(len(data.sources), 1)
    rows = rows[_last_per_key(data.pair[rows] * n_sources + data.source[rows])]
    pair = data.pair[rows]
    principle = source_principle[data.source[rows]] if len(rows) else np.zeros(0, dtype=np.int64)
    unit_keys, unit = np.unique(pair * n_principles + principle, return_inverse=True)
    counts = np.bincount(unit * 3 + data.label[rows], minlength=len(unit_keys) * 3).reshape(-1, 3)
    rater_keys, rater = np.unique(
        source_judge[data.source[rows]] if len(rows) else np.zeros(0, dtype=np.int64),
        return_inverse=True,
    )
    return HumanUnits(
        rating_unit=unit,
        rating_source=data.source[rows],
        rating_rater=rater,
        rating_label=data.label[rows].astype(np.int64),
        rating_pair=pair,
        unit_pair=unit_keys // n_principles,
        unit_principle=unit_keys % n_principles,
        value_counts=counts,
        majority=strict_majority(counts),
        rater_keys=rater_keys,
    )


def _ai_finals(data: AuditData, human: HumanUnits, source_principle, overall_code) -> AIFinals:
    n_pairs = len(data.pair_ids)
    rows = np.flatnonzero(data.kind == AI)
    key = data.source[rows] * n_pairs + data.pair[rows]
    keys = np.unique(key)
    slot = np.searchsorted(keys, key)
    order = data.order[rows]
    final_row = data.is_aggregate[rows] | (order >= 2)

    def fill(mask, values, empty, dtype):
        out = np.full(len(keys), empty, dtype=dtype)
        out[slot[mask]] = values[mask]
        return out

    labels = data.label[rows].astype(np.int64)
    probs = data.prob_a[rows]
    final = fill(final_row, labels, NO_LABEL, np.int64)
    final_prob = fill(final_row, probs, np.nan, np.float64)
    ab = fill(~final_row & (order == 0), labels, NO_LABEL, np.int64)
    ba = fill(~final_row & (order == 1), labels, NO_LABEL, np.int64)
    ab_prob = fill(~final_row & (order == 0), probs, np.nan, np.float64)
    ba_prob = fill(~final_row & (order == 1), probs, np.nan, np.float64)
    # No aggregate row: both orders agreeing give their label, disagreeing a tie (the judge
    # changed its mind with the order); one order alone is taken as it is.
    both = (ab >= 0) & (ba >= 0)
    derived = np.where(both, np.where(ab == ba, ab, TIE), np.where(ab >= 0, ab, ba))
    with np.errstate(invalid="ignore"):
        derived_prob = np.where(
            both, (ab_prob + ba_prob) / 2.0, np.where(ab >= 0, ab_prob, ba_prob)
        )
    missing = final < 0
    final[missing] = derived[missing]
    final_prob[missing] = derived_prob[missing]

    source = keys // max(n_pairs, 1)
    pair = keys % max(n_pairs, 1)
    return AIFinals(
        source=source,
        pair=pair,
        label=final,
        prob=final_prob,
        label_ab=ab,
        label_ba=ba,
        reference=_references(
            human, source_principle[source] if len(source) else source, pair, n_pairs, overall_code
        ),
    )


def _references(human: HumanUnits, principle, pair, n_pairs, overall_code) -> np.ndarray:
    """Human majority on (pair, same principle) if humans answered it, else on (pair, "")."""
    n_principles = (
        int(max(principle.max(initial=0), human.unit_principle.max(initial=0), overall_code)) + 1
    )
    unit_keys = human.unit_pair * n_principles + human.unit_principle

    def lookup(codes):
        if len(unit_keys) == 0:
            return np.full(len(pair), NO_LABEL), np.zeros(len(pair), dtype=bool)
        wanted = pair * n_principles + codes
        pos = np.minimum(np.searchsorted(unit_keys, wanted), len(unit_keys) - 1)
        found = unit_keys[pos] == wanted
        return np.where(found, human.majority[pos], NO_LABEL), found

    same, found_same = lookup(principle)
    overall, _ = lookup(np.full(len(pair), overall_code))
    return np.where(found_same, same, overall)
