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
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..store.models import Judgment

_SIDE_VALUE = {"a": 1.0, "b": 0.0, "tie": 0.5}


def load_votes(engine: Engine, *, pair_ids: list[int] | None = None) -> pd.DataFrame:
    t = Judgment.__table__
    q = select(t.c.pair_id, t.c.kind, t.c.judge, t.c.annotator_id, t.c.principle,
               t.c.constitution_hash, t.c.preferred, t.c.prob_a, t.c.is_aggregate).where(
        t.c.status == "submitted")
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    if pair_ids is not None:
        df = df[df.pair_id.isin(pair_ids)]
    return judgments_to_votes(df)


def judgments_to_votes(df: pd.DataFrame) -> pd.DataFrame:
    """Collapse judgment rows into votes (see the module docstring)."""
    cols = ["pair_id", "kind", "judge", "annotator_id", "principle", "constitution_hash", "value"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    hard = df.preferred.map(_SIDE_VALUE).astype(float)
    df = df.assign(value=np.where(df.prob_a.notna(), df.prob_a.astype(float), hard))
    df = df[df.value.notna()]
    human = df[df.kind == "human"]
    ai = df[df.kind == "ai"]
    keys = ["pair_id", "judge", "constitution_hash"]
    agg = ai[ai.is_aggregate]
    indiv = ai[~ai.is_aggregate]
    if not agg.empty:
        have_agg = pd.MultiIndex.from_frame(agg[keys])
        indiv = indiv[~pd.MultiIndex.from_frame(indiv[keys]).isin(have_agg)]
    if not indiv.empty:
        g = indiv.groupby(keys)
        # One principle → that principle; several → an ensemble (vectorized: no per-group Python).
        principle = g.principle.first().where(g.principle.nunique() == 1, "*ensemble*")
        indiv = g.value.mean().to_frame().join(principle).reset_index()
        indiv["kind"] = "ai"
        indiv["annotator_id"] = np.nan
    ai_votes = pd.concat([agg[cols], indiv[cols]], ignore_index=True) if not agg.empty else indiv.reindex(columns=cols)
    return pd.concat([human[cols], ai_votes], ignore_index=True)
