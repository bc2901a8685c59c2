"""Judge output health: per AI judge, the share of answers that could not be read and of
judgments whose choice was cut off by top-k.

A judge request whose answer could not be read (neither choice among the listed log-probs)
writes no judgment: the judge step records an error with cause ``unparsable`` for the pair,
counting every request of it. A judgment read from top-k alternatives with one choice missing
keeps ``meta.truncated_choice`` (that choice's log-prob is only an upper bound). Errors are
tied to jobs, not pairs, so a snapshot scope counts truncated judgments only.

>>> from accord.store.db import open_store
>>> judge_output_section(open_store("sqlite://"), AuditScope())
[]
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from .humans import clean
from .loader import AuditScope, scope_condition

JUDGE_STEPS = ("judge",)


def _truncated_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "(CAST(meta AS jsonb) ->> 'truncated_choice') = 'true'"
    return "json_extract(meta, '$.truncated_choice') = 1"


def _share(part: int, whole: int) -> float | None:
    return clean(part / whole) if whole else None


def judge_output_section(engine: Engine, scope: AuditScope) -> list[dict[str, Any]]:
    """One row per AI judge: judgments written, unparsable and truncated counts and shares."""
    where, params = scope_condition(scope, "pair_id")
    truncated = _truncated_sql(engine.dialect.name)
    rows: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for judge, n, n_truncated in conn.execute(
            text(
                f"SELECT judge, COUNT(*), SUM(CASE WHEN {truncated} THEN 1 ELSE 0 END)"
                " FROM judgment WHERE kind = 'ai' AND is_aggregate = :no"
                f" AND status = 'submitted'{where} GROUP BY judge"
            ),
            {**params, "no": False},
        ):
            rows[judge] = {"judgments": int(n), "truncated": int(n_truncated or 0), "unparsable": 0}
        if scope.snapshot is None:
            job_where = " AND job_id = :job_id" if scope.job_id is not None else ""
            errors = conn.execute(
                text(
                    "SELECT payload FROM joberror WHERE cause = 'unparsable' AND resolved = :no"
                    f" AND step IN ({', '.join(repr(s) for s in JUDGE_STEPS)}){job_where}"
                ),
                {**params, "no": False},
            )
            for (payload,) in errors:
                if isinstance(payload, str):
                    payload = json.loads(payload)
                judge = (payload or {}).get("model_id", "")
                row = rows.setdefault(judge, {"judgments": 0, "truncated": 0, "unparsable": 0})
                row["unparsable"] += len((payload or {}).get("requests") or [None])
    return [
        {
            "judge": judge,
            **row,
            "unparsable_share": _share(row["unparsable"], row["judgments"] + row["unparsable"]),
            "truncated_share": _share(row["truncated"], row["judgments"]),
        }
        for judge, row in sorted(rows.items())
    ]
