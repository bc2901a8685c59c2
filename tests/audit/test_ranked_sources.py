"""A judge's rankings are readings of their own in the pairwise audit: the judgments expanded
from its Bradley–Terry and listwise rankings are two label sources beside its pairwise labels,
so no reading overwrites another on a pair (both engines)."""

from __future__ import annotations

import numpy as np

from accord.audit.loader import AI, load_audit_data
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.rankings import upsert_ranking
from accord.store.crud.responses import upsert_response
from accord.store.db import session_scope


def test_ranking_readings_are_sources_of_their_own(engine):
    with session_scope(engine) as s:
        prompt = upsert_prompt(s, text="Name a colour")
        rs = [upsert_response(s, prompt=prompt, text=t) for t in ("red", "car", "blue")]
        for x, y in ((0, 1), (0, 2), (1, 2)):
            pair = upsert_pair(s, response_x=rs[x], response_y=rs[y])
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge="judge",
                preferred="a",
                prob_a=0.6,
                presentation_order="agg",
                is_aggregate=True,
            )
            upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="a")
        for method, ranks in (("bradley-terry", [1, 3, 2]), ("listwise", [3, 1, 2])):
            upsert_ranking(
                s,
                prompt=prompt,
                responses=rs,
                ranks=ranks,
                kind="ai",
                judge="judge",
                method=method,
            )
        upsert_ranking(s, prompt=prompt, responses=rs, ranks=[1, 2, 3], kind="human", judge="bob")
    data = load_audit_data(engine)
    ai = sorted(name for name, kind in zip(data.sources.judge, data.sources.kind) if kind == AI)
    assert ai == ["judge", "judge (bradley-terry ranking)", "judge (listwise ranking)"]
    humans = sorted(n for n, k in zip(data.sources.judge, data.sources.kind) if k != AI)
    assert humans == ["ann", "bob"]  # an annotator's ranking is that annotator's labels
    for name, expected in (("judge", 3), ("judge (listwise ranking)", 3)):
        source = data.sources.judge.index(name)
        assert int(np.sum(data.source == source)) == expected
