"""The ``dawid-skene`` snapshot policy: each pair's posterior label under a model of annotators.

``accord.audit.dawid_skene.dawid_skene`` (EM, matched to crowd-kit's ``DawidSkene``) is fitted
on the human votes of the snapshot's pairs: workers are annotators (the store annotator when
the label is linked to one, else the name the label came with), answers are sides (a vote
> 0.5 is a, < 0.5 is b). A "tie" vote names no side and is left out. Each pair's soft label is
the posterior P(a ≻ b); the build orients it, so the example keeps P(chosen ≻ rejected).

AI judges are not workers. A judge labels every pair, humans a few: in EM its confusion matrix
would be estimated mostly against posteriors its own votes made, a self-confirming loop that
rates any judge as accurate. Use ``--calibration`` and the ``escalate`` policy to let AI labels
in with a measured, human-anchored quality. Pairs without a human side get no label.

The manifest's ``dawid_skene`` records each annotator's estimated accuracy (the diagonal of
the confusion matrix weighted by the class priors) and label count, the priors, and the
iterations EM ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine


def _workers(human: pd.DataFrame) -> np.ndarray:
    annotator = human.annotator_id.to_numpy(float)
    names = human.judge.fillna("").astype(str).to_numpy(object)
    return np.array(
        [
            f"annotator:{int(a)}" if a == a else f"name:{n}"
            for a, n in zip(annotator, names, strict=True)
        ],
        dtype=object,
    )


def dawid_skene_votes(
    engine: Engine, votes: pd.DataFrame, params: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Human a/b votes with each one's value replaced by its pair's posterior P(a)."""
    from ..audit.dawid_skene import dawid_skene

    is_h = (votes.kind == "human").to_numpy(bool)
    value = votes.value.to_numpy(float)
    sided = is_h & (value != 0.5)
    human = votes[sided]
    figures: dict[str, Any] = {
        "workers": "human annotators (AI judges are not workers)",
        "ties_left_out": int((is_h & ~sided).sum()),
        "ai_votes_left_out": int((~is_h).sum()),
    }
    if human.empty:
        figures.update(iterations=0, annotators=[], pairs=0)
        return human, {"dawid_skene": figures}
    items = human.pair_id.to_numpy(np.int64)
    workers = _workers(human)
    answers = (human.value.to_numpy(float) > 0.5).astype(np.int64)  # 1 = a, 0 = b
    fit = dawid_skene(items, workers, answers)
    classes = fit.classes.tolist()
    p_a = fit.posteriors[:, classes.index(1)] if 1 in classes else np.zeros(len(fit.items))
    posterior = p_a[np.searchsorted(fit.items, items)]
    accuracy = fit.accuracy()
    counts = pd.Series(workers).value_counts()
    label_names = human.judge.fillna("").astype(str).to_numpy(object)
    names = dict(zip(workers[::-1], label_names[::-1], strict=True))  # first name seen
    annotators = []
    for w, acc in zip(fit.workers.tolist(), accuracy.tolist(), strict=True):
        kind, _, ident = w.partition(":")
        annotators.append(
            {
                "annotator": names[w],
                "annotator_id": int(ident) if kind == "annotator" else None,
                "accuracy": round(float(acc), 6),
                "n_labels": int(counts[w]),
            }
        )
    figures.update(
        iterations=int(fit.iterations),
        pairs=int(len(fit.items)),
        priors={
            ("a" if c == 1 else "b"): round(float(p), 6)
            for c, p in zip(classes, fit.priors.tolist(), strict=True)
        },
        annotators=sorted(annotators, key=lambda r: (-r["n_labels"], str(r["annotator"]))),
    )
    return human.assign(value=posterior), {"dawid_skene": figures}
