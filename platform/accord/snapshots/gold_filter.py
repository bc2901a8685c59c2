"""``--min-gold-accuracy``: drop the human labels of annotators whose accuracy on gold pairs
(``accord.audit.gold``) is below a bar, and say in the manifest who and why.

Annotators who answered no gold pair are not measured and keep their labels (the manifest
counts them). Only labels linked to a store annotator can be dropped; the manifest lists the
judge names of the others under ``not_excludable``.

>>> import pandas as pd
>>> from accord.store.db import open_store
>>> votes = pd.DataFrame({"kind": ["human"], "annotator_id": [1]})
>>> kept, figures = exclude_low_gold_accuracy(open_store("sqlite://"), votes, 0.8)
>>> len(kept), figures["excluded"]
(1, [])
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine


def exclude_low_gold_accuracy(
    engine: Engine, votes: pd.DataFrame, min_accuracy: float
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The votes without the labels of annotators below ``min_accuracy``, and the figures."""
    if not 0.0 <= min_accuracy <= 1.0:
        raise ValueError(f"min_gold_accuracy must be in [0, 1], got {min_accuracy}")
    from ..audit.gold import gold_accuracy_section

    rows = gold_accuracy_section(engine)
    low = [r for r in rows if r["accuracy"] < min_accuracy]
    excluded = [
        {
            "annotator": r["annotator"],
            "annotator_id": r["annotator_id"],
            "accuracy": r["accuracy"],
            "n_gold": r["n_gold"],
            "interval": [r["ci_low"], r["ci_high"]],
            "reason": f"gold accuracy {r['accuracy']:.3f} < {min_accuracy} "
            f"({r['correct']}/{r['n_gold']} gold labels right)",
        }
        for r in low
        if r["annotator_id"] is not None
    ]
    ids = [r["annotator_id"] for r in excluded]
    drop = (votes.kind == "human") & votes.annotator_id.isin(ids)
    figures = {
        "min_gold_accuracy": min_accuracy,
        "measured": len(rows),
        "excluded": excluded,
        "excluded_labels": int(drop.sum()),
        "not_excludable": [r["annotator"] for r in low if r["annotator_id"] is None],
    }
    return votes[~drop], figures
