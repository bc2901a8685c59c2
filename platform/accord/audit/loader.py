"""Read the judgments of a scope from the store into numpy arrays, with SQL only.

SQL turns every judgment into five numbers (pair, label source, label, order flags, soft
probability); the few distinct label sources — (kind, judge, principle, constitution, and for
an AI judge's judgments expanded from its rankings the ranking method) — come from a GROUP BY,
so no Python code runs per judgment. A judge's rankings are readings of their own: their
expanded judgments are the source ``judge (listwise ranking)``, not more labels of ``judge``.
Only submitted judgments with a label count; discarded answers are left out.

A scope is the whole store, a job (the pairs it created or judged, with every judgment on
them, so a judge job is compared with the humans who labeled the same pairs), or a snapshot
(the pairs it resolved).

>>> from accord.store.db import open_store
>>> data = load_audit_data(open_store("sqlite://"))
>>> len(data.label), len(data.pair_ids)
(0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

LABELS = ("a", "b", "tie")
# What follows an AI judge's name for the judgments expanded from its rankings, by method code.
RANKED_BY = {1: " (bradley-terry ranking)", 2: " (listwise ranking)", 3: " (ranking)"}
_RANKED_SQL = (
    "(CASE WHEN j.kind = 'human' OR j.ranking_id IS NULL THEN 0 ELSE COALESCE((SELECT CASE "
    "r.method WHEN 'bradley-terry' THEN 1 WHEN 'listwise' THEN 2 ELSE 3 END FROM ranking r "
    "WHERE r.id = j.ranking_id), 3) END)"
)
ORDERS = ("ab", "ba", "agg", "")
HUMAN, AI = 0, 1


@dataclass(frozen=True)
class AuditScope:
    """What an audit covers: the whole store (default), one job, or one snapshot."""

    job_id: int | None = None
    snapshot: str | None = None

    def __post_init__(self) -> None:
        if self.job_id is not None and self.snapshot is not None:
            raise ValueError("audit one scope at a time: a job or a snapshot, not both")

    def describe(self) -> str:
        if self.job_id is not None:
            return f"job {self.job_id}"
        if self.snapshot is not None:
            return f"snapshot {self.snapshot}"
        return "whole store"

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "snapshot": self.snapshot, "description": self.describe()}


@dataclass
class LabelSources:
    """The distinct label sources: a human annotator or an AI judge under one constitution
    version and principle (index = the ``source`` code of each judgment)."""

    kind: np.ndarray
    judge: list[str]
    principle: list[str]
    constitution_hash: list[str]
    annotator_id: np.ndarray

    def __len__(self) -> int:
        return len(self.judge)


@dataclass
class AuditData:
    """Judgments as parallel arrays (one entry per judgment) plus per-pair and lookup tables."""

    pair: np.ndarray  # index into pair_ids
    source: np.ndarray  # index into sources
    label: np.ndarray  # 0 a, 1 b, 2 tie
    order: np.ndarray  # index into ORDERS
    is_aggregate: np.ndarray
    prob_a: np.ndarray  # NaN when the judgment has no soft label
    pair_ids: np.ndarray
    len_a: np.ndarray  # characters of response_a / response_b, per pair
    len_b: np.ndarray
    sources: LabelSources
    annotators: dict[int, dict[str, Any]] = field(default_factory=dict)
    constitutions: dict[str, str] = field(default_factory=dict)
    scope: AuditScope = field(default_factory=AuditScope)
    # Per pair: the ranked item (prompt and K responses) it was compared in when some of its
    # judgments were expanded from a ranking, as a cluster code shared by the item's pairs;
    # None when the scope has no rankings (every pair its own unit).
    pair_item: np.ndarray | None = None

    @property
    def kind(self) -> np.ndarray:
        return self.sources.kind[self.source] if len(self.source) else np.zeros(0, dtype=np.int8)

    def restrict(self, pair_ids) -> AuditData:
        """The same data on a subset of pairs (e.g. the candidates of a snapshot)."""
        wanted = np.isin(self.pair_ids, np.asarray(list(pair_ids), dtype=np.int64))
        new_index = np.cumsum(wanted) - 1
        keep = wanted[self.pair]
        return AuditData(
            pair=new_index[self.pair[keep]],
            source=self.source[keep],
            label=self.label[keep],
            order=self.order[keep],
            is_aggregate=self.is_aggregate[keep],
            prob_a=self.prob_a[keep],
            pair_ids=self.pair_ids[wanted],
            len_a=self.len_a[wanted],
            len_b=self.len_b[wanted],
            sources=self.sources,
            annotators=self.annotators,
            constitutions=self.constitutions,
            scope=self.scope,
            pair_item=None if self.pair_item is None else self.pair_item[wanted],
        )

    def human_reliability_matrix(self) -> np.ndarray:
        """Human raters × pairs (with a human label) matrix of label codes, NaN missing: the
        ``krippendorff`` package's input format (for checks against it)."""
        human = self.kind == HUMAN
        rater_codes, raters = np.unique(self.source[human], return_inverse=True)
        pairs, units = np.unique(self.pair[human], return_inverse=True)
        out = np.full((len(rater_codes), len(pairs)), np.nan)
        out[raters, units] = self.label[human]
        return out


def scope_condition(scope: AuditScope, column: str) -> tuple[str, dict[str, Any]]:
    """A condition on a pair id column restricting it to the scope's pairs."""
    if scope.job_id is not None:
        return (
            (
                f" AND {column} IN (SELECT id FROM pair WHERE job_id = :job_id"
                " UNION SELECT pair_id FROM judgment WHERE job_id = :job_id)"
            ),
            {"job_id": int(scope.job_id)},
        )
    if scope.snapshot is not None:
        return (
            (
                f" AND {column} IN (SELECT se.pair_id FROM snapshotexample se"
                " JOIN snapshot s ON s.id = se.snapshot_id WHERE s.name = :snapshot)"
            ),
            {"snapshot": scope.snapshot},
        )
    return "", {}


def _check_scope(conn, scope: AuditScope) -> None:
    if (
        scope.job_id is not None
        and conn.execute(text("SELECT 1 FROM job WHERE id = :i"), {"i": scope.job_id}).first()
        is None
    ):
        raise ValueError(f"no job with id {scope.job_id} in the store")
    if scope.snapshot is not None:
        found = conn.execute(text("SELECT 1 FROM snapshot WHERE name = :n"), {"n": scope.snapshot})
        if found.first() is None:
            raise ValueError(f"no snapshot named {scope.snapshot!r} in the store")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(column: str, mapping: dict[str, int], other: int) -> str:
    """SQL mapping a text column to integer codes (``other`` for a value not listed, e.g.
    one written while the audit reads)."""
    if not mapping:
        return str(other)
    whens = " ".join(f"WHEN {_quote(k)} THEN {v}" for k, v in mapping.items())
    return f"(CASE {column} {whens} ELSE {other} END)"


@dataclass
class _Packing:
    """Several small integer fields packed into one 62-bit integer per row, so the database
    hands over one long text of numbers instead of millions of Python objects."""

    fields: list[tuple[str, int]]  # (SQL expression with values in [0, size), size)

    def words(self) -> list[list[tuple[str, int]]]:
        out: list[list[tuple[str, int]]] = [[]]
        capacity = 1
        for expr, size in self.fields:
            if out[-1] and capacity * size >= 2**62:
                out.append([])
                capacity = 1
            out[-1].append((expr, size))
            capacity *= size
        return out

    @staticmethod
    def word_sql(word: list[tuple[str, int]]) -> str:
        sql = f"CAST({word[0][0]} AS BIGINT)"
        for expr, size in word[1:]:
            sql = f"({sql} * {size} + {expr})"
        return sql

    @staticmethod
    def unpack(values: np.ndarray, word: list[tuple[str, int]]) -> list[np.ndarray]:
        out = []
        for _, size in reversed(word[1:]):
            values, rest = np.divmod(values, size)
            out.append(rest)
        out.append(values)
        return out[::-1]


def _read_numbers(
    conn,
    select_sql: str,
    where: str,
    params: dict[str, Any],
    per_row: int,
    id_column: str,
    table: str,
) -> np.ndarray:
    """``select_sql`` (a comma-joined SQL text of integers per row) aggregated into one text
    per chunk of ids and parsed by numpy: (rows, per_row) int64."""
    dialect = conn.dialect.name
    agg = (
        f"string_agg({select_sql}, ',')"
        if dialect == "postgresql"
        else f"group_concat({select_sql}, ',')"
    )
    lo, hi = conn.execute(text(f"SELECT MIN({id_column}), MAX({id_column}) FROM {table}")).one()
    parts = []
    if lo is not None:
        for start in range(int(lo), int(hi) + 1, _CHUNK_IDS):
            chunk = conn.execute(
                text(
                    f"SELECT {agg} FROM {table} WHERE {id_column} >= :lo AND {id_column} < :hi"
                    + where
                ),
                {**params, "lo": start, "hi": start + _CHUNK_IDS},
            ).scalar()
            if chunk:
                parts.append(np.fromstring(chunk, dtype=np.int64, sep=","))
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return flat.reshape(-1, per_row)


# Ids per aggregated text: bounds memory (~30 bytes a row) on very large stores.
_CHUNK_IDS = 2_000_000
PROB_SCALE = 1_000_000  # soft labels are read with 6 decimals
_NO_PROB = PROB_SCALE + 1
_SUBMITTED = " AND j.status = 'submitted' AND j.preferred IN ('a', 'b', 'tie')"


def _as_text(sql: str, dialect: str) -> str:
    return f"CAST({sql} AS TEXT)" if dialect == "postgresql" else sql


def load_audit_data(engine: Engine, scope: AuditScope | None = None) -> AuditData:
    """Every submitted judgment of ``scope`` as arrays (see ``AuditData``)."""
    scope = scope or AuditScope()
    where, params = scope_condition(scope, "j.pair_id")
    pair_where, _ = scope_condition(scope, "p.id")
    with engine.connect() as conn:
        _check_scope(conn, scope)
        dialect = conn.dialect.name
        # The few distinct texts come from index-only scans; a judgment becomes codes in SQL.
        annotator_rows = conn.execute(text("SELECT id, username, is_gold FROM annotator")).all()
        annotators = {int(r[0]): {"username": r[1], "is_gold": bool(r[2])} for r in annotator_rows}
        by_username = {r[1]: int(r[0]) for r in annotator_rows}
        judges = [r[0] for r in conn.execute(text("SELECT DISTINCT judge FROM judgment")).all()]
        principles = sorted(
            r[0] for r in conn.execute(text("SELECT DISTINCT principle FROM judgment"))
        )
        hashes = sorted(
            r[0] for r in conn.execute(text("SELECT DISTINCT constitution_hash FROM judgment"))
        )
        constitutions = {
            r[0]: f"{r[1]}@{r[2]}"
            for r in conn.execute(
                text("SELECT content_hash, name, version FROM constitution")
            ).all()
        }
        max_pair = conn.execute(text("SELECT MAX(id) FROM pair")).scalar() or 0

        # Who judged: the annotator id when the row has one (or its judge is an annotator's
        # username), else a code after the annotator ids for each other judge name.
        first_free = max(by_username.values(), default=0) + 1
        other_judges = sorted(j for j in judges if j not in by_username)
        judge_codes = {j: first_free + i for i, j in enumerate(other_judges)}
        judge_codes.update({j: by_username[j] for j in judges if j in by_username})
        n_who = first_free + len(other_judges) + 1
        principle_codes = {p: i for i, p in enumerate(principles)}
        hash_codes = {h: i for i, h in enumerate(hashes)}
        packing = _Packing(
            [
                ("j.pair_id", max_pair + 1),
                ("(CASE j.preferred WHEN 'a' THEN 0 WHEN 'b' THEN 1 ELSE 2 END)", 3),
                (
                    (
                        "(CASE j.presentation_order WHEN 'ab' THEN 0 WHEN 'ba' THEN 1 WHEN 'agg' "
                        "THEN 2"
                        " ELSE 3 END)"
                    ),
                    4,
                ),
                ("(CASE WHEN j.is_aggregate THEN 1 ELSE 0 END)", 2),
                ("(CASE WHEN j.kind = 'human' THEN 0 ELSE 1 END)", 2),
                (f"COALESCE(j.annotator_id, {_case('j.judge', judge_codes, n_who - 1)})", n_who),
                (_case("j.principle", principle_codes, len(principles)), len(principles) + 1),
                (_case("j.constitution_hash", hash_codes, len(hashes)), len(hashes) + 1),
                (
                    f"COALESCE(CAST(ROUND(j.prob_a * {PROB_SCALE}) AS BIGINT), {_NO_PROB})",
                    _NO_PROB + 1,
                ),
                (_RANKED_SQL, len(RANKED_BY) + 1),
            ]
        )
        words = packing.words()
        select = " || ',' || ".join(_as_text(_Packing.word_sql(w), dialect) for w in words)
        packed = _read_numbers(
            conn, select, _SUBMITTED + where, params, len(words), "j.id", "judgment j"
        )
        pair_select = " || ',' || ".join(
            _as_text(x, dialect)
            for x in (
                "p.id",
                "(SELECT LENGTH(r.text) FROM response r WHERE r.id = p.response_a_id)",
                "(SELECT LENGTH(r.text) FROM response r WHERE r.id = p.response_b_id)",
            )
        )
        pair_table = _read_numbers(conn, pair_select, pair_where, params, 3, "p.id", "pair p")
        ranked = _ranked_items(conn)

    fields = [f for i, w in enumerate(words) for f in _Packing.unpack(packed[:, i], w)]
    pair_id, label, order, aggregate, kind, who, principle, chash, prob_q, reading = fields
    known = (who < n_who - 1) & (principle < len(principles)) & (chash < len(hashes))
    source_key = (
        ((kind * n_who + who) * (len(principles) + 1) + principle) * (len(hashes) + 1) + chash
    ) * (len(RANKED_BY) + 1) + reading
    keys, source = np.unique(source_key[known], return_inverse=True)
    rest, s_ranked = np.divmod(keys, len(RANKED_BY) + 1)
    rest, s_hash = np.divmod(rest, len(hashes) + 1)
    rest, s_principle = np.divmod(rest, len(principles) + 1)
    s_kind, s_who = np.divmod(rest, n_who)
    name_of = {code: name for name, code in judge_codes.items() if name not in by_username}
    name_of.update({i: a["username"] for i, a in annotators.items()})
    sources = LabelSources(
        kind=np.where(s_kind == 0, HUMAN, AI).astype(np.int8),
        judge=[
            name_of.get(int(w), f"#{int(w)}") + RANKED_BY.get(int(r), "")
            for w, r in zip(s_who, s_ranked)
        ],
        principle=[principles[int(p)] for p in s_principle],
        constitution_hash=[hashes[int(h)] for h in s_hash],
        annotator_id=np.where((s_kind == 0) & (s_who < first_free), s_who, -1).astype(np.int64),
    )
    # Pairs in scope that have at least one judgment, sorted by id.
    pair_table = pair_table[np.argsort(pair_table[:, 0], kind="stable")]
    pair_table = pair_table[np.isin(pair_table[:, 0], pair_id[known])]
    pair_ids = pair_table[:, 0]
    prob = prob_q[known].astype(np.float64) / PROB_SCALE
    return AuditData(
        pair=np.searchsorted(pair_ids, pair_id[known]),
        source=source.astype(np.int64),
        label=label[known].astype(np.int8),
        order=order[known].astype(np.int8),
        is_aggregate=aggregate[known].astype(bool),
        prob_a=np.where(prob_q[known] == _NO_PROB, np.nan, prob),
        pair_ids=pair_ids,
        len_a=pair_table[:, 1],
        len_b=pair_table[:, 2],
        sources=sources,
        annotators=annotators,
        constitutions=constitutions,
        scope=scope,
        pair_item=_pair_items(pair_ids, ranked),
    )


def _ranked_items(conn) -> dict[int, str]:
    """pair id → the ranked item (smallest group key) of pairs with a judgment expanded from
    a ranking; empty when the store has no rankings."""
    if conn.execute(text("SELECT 1 FROM ranking LIMIT 1")).first() is None:
        return {}
    rows = conn.execute(
        text(
            "SELECT j.pair_id, MIN(r.group_key) FROM judgment j JOIN ranking r"
            " ON r.id = j.ranking_id WHERE j.ranking_id IS NOT NULL GROUP BY j.pair_id"
        )
    ).all()
    return {int(pid): key for pid, key in rows}


def _pair_items(pair_ids: np.ndarray, ranked: dict[int, str]) -> np.ndarray | None:
    """Cluster codes per pair: pairs of one ranked item share one, other pairs have their own."""
    if not ranked:
        return None
    keys = [ranked.get(int(pid), f"pair:{int(pid)}") for pid in pair_ids.tolist()]
    _, codes = np.unique(np.array(keys, dtype=object), return_inverse=True)
    return codes.astype(np.int64)
