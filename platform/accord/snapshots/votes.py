"""Judgments of a set of pairs as one vote per (pair, judge): the input of every policy.

Humans: each submitted human judgment is a vote. AI: one vote per (pair, judge model,
constitution version) — the judge's aggregate row when it wrote one, otherwise the mean of its
individual judgments (over presentation orders and principles), so a judge asked in both orders
and under three principles still counts once.

Votes are a pandas frame with columns pair_id, kind, judge, annotator_id, principle,
constitution_hash, value (P(response_a ≻ response_b)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Engine

from ..store.models import Judgment
from .columns import fetch_columns

_SIDE_VALUE = {"a": 1.0, "b": 0.0, "tie": 0.5}
VOTE_COLUMNS = [
    "pair_id",
    "kind",
    "judge",
    "annotator_id",
    "principle",
    "constitution_hash",
    "value",
]
_TEXT_COLUMNS = ("judge", "principle", "constitution_hash")
_KINDS = np.array(["ai", "human"], dtype=object)  # indexed by is_human


def load_votes(
    engine: Engine, *, pair_ids: list[int] | None = None, human_details: bool = True
) -> pd.DataFrame:
    """Votes of every submitted judgment (of ``pair_ids`` only, if given).

    ``human_details=False`` leaves ``judge``, ``principle`` and ``constitution_hash`` empty
    (None) on human votes: no policy reads them, and a snapshot build then reads a million
    strings fewer per million human judgments.
    """
    t = Judgment.__table__
    # The value a judgment votes (its soft probability, else its side) and whether it is a
    # human's are computed by the database: no side or kind string per judgment crosses into
    # Python. Kinds other than human and ai never vote.
    hard = case(*((t.c.preferred == side, v) for side, v in _SIDE_VALUE.items()), else_=None)
    texts = [
        t.c[c] if human_details else case((t.c.kind == "ai", t.c[c]), else_=None).label(c)
        for c in _TEXT_COLUMNS
    ]
    q = select(
        t.c.pair_id,
        (t.c.kind == "human").label("is_human"),
        t.c.annotator_id,
        *texts,
        func.coalesce(t.c.prob_a, hard).label("value"),
        t.c.is_aggregate,
    ).where(t.c.status == "submitted", or_(t.c.kind == "human", t.c.kind == "ai"))
    with engine.connect() as conn:
        cols = fetch_columns(conn, q)
    df = pd.DataFrame(
        {
            "pair_id": np.array(cols["pair_id"], dtype=np.int64),
            "kind": pd.Series(
                _KINDS[np.array(cols["is_human"], dtype=bool).astype(np.intp)], dtype=object
            ),
            **{c: pd.Series(cols[c], dtype=object) for c in _TEXT_COLUMNS},
            "annotator_id": np.array(cols["annotator_id"], dtype=float),
            "value": np.array(cols["value"], dtype=float),
            "is_aggregate": np.array(cols["is_aggregate"], dtype=bool),
        }
    )
    if pair_ids is not None:
        df = df[df.pair_id.isin(pair_ids)]
    return _collapse(df[df.value.notna()])


def judgments_to_votes(df: pd.DataFrame) -> pd.DataFrame:
    """Collapse judgment rows into votes (see the module docstring)."""
    if df.empty:
        return pd.DataFrame(columns=VOTE_COLUMNS)
    hard = df.preferred.map(_SIDE_VALUE).astype(float)
    df = df.assign(value=np.where(df.prob_a.notna(), df.prob_a.astype(float), hard))
    return _collapse(df[df.value.notna()])


def _collapse(df: pd.DataFrame) -> pd.DataFrame:
    """Judgments with a ``value`` → votes: humans as they are, AI judges one vote per pair."""
    cols = VOTE_COLUMNS
    if df.empty:
        return pd.DataFrame(columns=cols)
    is_human = (df.kind == "human").to_numpy()
    human = df[is_human]
    ai = df[(df.kind == "ai").to_numpy()]
    keys = ["pair_id", "judge", "constitution_hash"]
    is_agg = ai.is_aggregate.to_numpy(bool)
    agg = ai[is_agg]
    indiv = ai[~is_agg]
    if not agg.empty:
        have_agg = pd.MultiIndex.from_frame(agg[keys])
        indiv = indiv[~pd.MultiIndex.from_frame(indiv[keys]).isin(have_agg)]
    if not indiv.empty:
        indiv = _one_vote_per_judge(indiv, keys)
    ai_votes = (
        pd.concat([agg[cols], indiv[cols]], ignore_index=True)
        if not agg.empty
        else indiv.reindex(columns=cols)
    )
    return pd.concat([human[cols], ai_votes], ignore_index=True)


def _one_vote_per_judge(indiv: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean of each judge's individual judgments of a pair; one principle → that principle,
    several → an ensemble. Votes of one pair come in (judge, constitution) order."""
    # Only keys judged more than once need grouping; a single judgment is its own mean (the
    # common case at scale: one judgment per judge and pair).
    repeated = indiv.duplicated(keys, keep=False).to_numpy()
    votes = indiv[~repeated].reindex(columns=VOTE_COLUMNS)
    if repeated.any():
        g = indiv[repeated].groupby(keys)
        principle = g.principle.first().where(g.principle.nunique() == 1, "*ensemble*")
        grouped = g.value.mean().to_frame().join(principle).reset_index()
        grouped["kind"] = "ai"
        votes = pd.concat([votes, grouped.reindex(columns=VOTE_COLUMNS)], ignore_index=True)
    votes["annotator_id"] = np.nan
    # The order of a pair's votes is the order its weighted sums add up in: keep it the same
    # as a group-by over all keys would give. Pairs with one AI vote need no sorting.
    if votes.pair_id.duplicated().any():
        votes = votes.sort_values(keys, kind="stable")
    return votes.reset_index(drop=True)
