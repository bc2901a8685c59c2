"""A simulated store with known answers for the trust-layer snapshot tests.

One AI judge writes an aggregate soft label p per pair; the true P(a) is σ(k · logit(p))
(k = 1: a calibrated judge, k < 1: an overconfident one). The first ``n_human`` pairs carry
human labels from annotators of known accuracy (each answers the pair's drawn true side with
that probability); the rest carry the AI label only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accord.hashing import content_hash
from accord.store.crud.annotators import get_or_create_annotator
from accord.store.crud.constitutions import upsert_constitution
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope

JUDGE = "judge-sim"
CONSTITUTION = content_hash("constitution", "trust", "1")


@dataclass
class TrustStore:
    engine: object
    pair_ids: np.ndarray
    p: np.ndarray  # the judge's P(a) per pair
    truth_a: np.ndarray  # the drawn true side per pair (True = a)
    human: dict[str, np.ndarray]  # annotator → answered a (True) / b, first n_human pairs
    n_human: int


def build_trust_store(
    url: str | object,
    *,
    n_pairs: int = 200,
    n_human: int = 120,
    k: float = 1.0,
    annotators: dict[str, float] | None = None,
    seed: int = 0,
) -> TrustStore:
    annotators = annotators or {"ann": 1.0}
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n_pairs)
    truth_p = 1 / (1 + np.exp(-k * np.log(p / (1 - p))))
    truth_a = rng.uniform(size=n_pairs) < truth_p
    human = {
        name: np.where(rng.uniform(size=n_human) < acc, truth_a[:n_human], ~truth_a[:n_human])
        for name, acc in annotators.items()
    }
    engine = open_store(url) if isinstance(url, str) else url  # a URL or an open engine
    with session_scope(engine) as s:
        const = upsert_constitution(
            s, name="trust", version="1", content_hash=CONSTITUTION, text="p: x"
        )
        people = {
            name: get_or_create_annotator(s, username=name, source="import") for name in annotators
        }
        ids = []
        for i in range(n_pairs):
            prompt = upsert_prompt(s, text=f"question {i}")
            x = upsert_response(s, prompt=prompt, text=f"answer one {i}")
            y = upsert_response(s, prompt=prompt, text=f"answer two {i}")
            pair = upsert_pair(s, response_x=x, response_y=y, source="sim")
            ids.append(pair.id)
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge=JUDGE,
                constitution_hash=CONSTITUTION,
                constitution_id=const.id,
                preferred="a" if p[i] > 0.5 else "b",
                prob_a=float(p[i]),
                presentation_order="agg",
                principle="helpful",
                is_aggregate=True,
            )
            if i < n_human:
                for name, answers in human.items():
                    upsert_judgment(
                        s,
                        pair=pair,
                        kind="human",
                        judge=name,
                        preferred="a" if answers[i] else "b",
                        annotator_id=people[name].id,
                    )
    return TrustStore(
        engine=engine,
        pair_ids=np.asarray(ids, dtype=np.int64),
        p=p,
        truth_a=truth_a,
        human=human,
        n_human=n_human,
    )
