"""Ingest rate of the store's write path: records/s and judgments/s, side by side, in one run.

Why: imports of public preference sets (hundreds of thousands of pairs) and RLAIF jobs that
write several AI judgments per pair (principles × presentation orders) all go through
``accord.store.ingest``; the target is ≥ 50,000 judgments/s on SQLite on 2 cores. The machine
this runs on may be shared, so every rate is printed beside the ceiling measured in the same
run on the same load, and as CPU time of this process (SQLite runs inside it) as well as wall
time. For each load, on fresh stores:

- ``raw driver``: the driver alone inserting ready-made rows (prompts, responses, pairs,
  judgments, ids known in advance, values already in the types the driver binds fastest)
  — the ceiling the schema and its indexes allow;
- ``StoreIngestor``: ``accord.store.ingest.StoreIngestor`` writing bundles built beforehand
  (the store's own work: id resolution, bind conversions, inserts);
- ``PreferenceIngestor``: preference records → bundles (hashes, validation) → the same writer;
- ``again (unchanged)``: the same records a second time (every row found, nothing written);
- ``accord import``: end to end from a TRL JSONL file (read, validate, hash, write).

Loads: records-heavy (1 human judgment per pair) and judgments-heavy (several AI judgments
per pair). With ``ACCORD_BENCH_POSTGRES_URL`` set (an empty, writable database) the same runs
go to PostgreSQL too (wall time only there: the server's CPU is not this process's).

    python bench/bench_ingest.py                      # 20,000 pairs; 5,000 pairs × 8 judges
    python bench/bench_ingest.py --pairs 5000 --heavy-pairs 2000
    python bench/bench_ingest.py --index-proposal     # + the ceiling without judge, source indexes
    python bench/bench_ingest.py --repeat 3           # best of 3 runs per line (loaded machines)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

TARGET = 50_000  # judgments/s on SQLite


def records(n_pairs: int, judges: int, tag: str):
    from accord.store.ingest import JudgmentSpec, PreferenceRecord

    for i in range(n_pairs):
        specs = (
            [
                JudgmentSpec(
                    kind="ai",
                    judge=f"judge-{j // 2}",
                    principle=f"p{j // 2}",
                    presentation_order="ab" if j % 2 == 0 else "ba",
                    prob_chosen=0.7,
                )
                for j in range(judges)
            ]
            if judges > 1
            else None
        )
        yield PreferenceRecord(
            prompt=f"{tag} question {i}: how do I keep basil alive?",
            chosen=f"Water it when the soil is dry ({i}).",
            rejected=f"Never water it ({i}).",
            source="bench",
            judgments=specs,
        )


def timed(fn) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, judgments written) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, n


def fresh_store(url: str):
    """A migrated, empty store: a new SQLite file, or a new database on the PostgreSQL server
    of ``url`` (dropped when the run ends)."""
    from accord.store.db import open_store

    if url.startswith("postgresql"):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        name = f"accord_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(url).set(database=name).render_as_string(hide_password=False)
        _created_databases.append(url)
    return open_store(url)


_created_databases: list[str] = []


def drop_created_databases(server_url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from accord.store import db

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for url in _created_databases:
            engine = db._engines.pop(url, None)
            if engine is not None:
                engine.dispose()
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
    admin.dispose()
    _created_databases.clear()


# Judgment indexes that queries use but that imports pay for on every insert (judge: the
# listing's filter and the audit's list of judges; source: Argilla pulls): measured with
# --index-proposal, to show what each remaining index costs.
CANDIDATE_JUDGMENT_INDEXES = ("ix_judgment_judge", "ix_judgment_source")


def run_raw(
    url: str, n: int, judges: int, drop_indexes: tuple[str, ...] = ()
) -> tuple[float, float, int]:
    """The driver alone: ready rows into the four tables, in one transaction."""
    engine = fresh_store(url)
    with engine.begin() as conn:
        for index in drop_indexes:
            conn.exec_driver_sql(f"DROP INDEX {index}")
    ts = "2025-01-01 00:00:00.000000"

    def key() -> str:  # random 64-hex keys, as sha256 content hashes are
        return uuid.uuid4().hex * 2

    prompts = [
        (f"question {i}: how do I keep basil alive?", "bench", key(), key(), "{}", ts)
        for i in range(n)
    ]
    responses = [
        (
            f"Water it when the soil is dry ({k}).",
            "initial",
            "",
            "import",
            key(),
            k // 2 + 1,
            "{}",
            "",
            0,
            "{}",
            ts,
        )
        for k in range(2 * n)
    ]
    pairs = [(i + 1, 2 * i + 1, 2 * i + 2, "bench", key(), ts) for i in range(n)]
    # On SQLite is_aggregate is bound as 0, as SQLite stores it (the sqlite3 driver binds an
    # int faster than a bool; accord's writer binds ints too).
    false = 0 if engine.dialect.name == "sqlite" else False
    judgments = [
        (
            i // judges + 1,
            "ai",
            f"judge-{i % judges // 2}",
            f"p{i % judges // 2}",
            "ab" if i % 2 == 0 else "ba",
            "a",
            0.7,
            "submitted",
            false,
            key(),
            "import",
            "",
            "bench",
            "{}",
            ts,
            ts,
        )
        for i in range(n * judges)
    ]
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sqlite = engine.dialect.name == "sqlite"

    def insert(conn, table, cols, rows):
        """SQLite: multi-row ``VALUES`` statements (the fastest way through the sqlite3 driver,
        a little faster than ``executemany``); PostgreSQL: ``executemany`` (psycopg pipelines
        it)."""
        one = f"({', '.join([mark] * len(cols))})"
        conflict = (
            f" ON CONFLICT ({'key_hash' if table == 'judgment' else 'content_hash'}) DO NOTHING"
        )
        head = f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
        if not sqlite:
            conn.exec_driver_sql(head + one + conflict, rows)
            return
        cursor = conn.connection.dbapi_connection.cursor()
        per_statement = 30_000 // len(cols)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                head + ", ".join([one] * len(chunk)) + conflict, [v for row in chunk for v in row]
            )
        cursor.close()

    def write() -> int:
        with engine.begin() as conn:
            insert(
                conn,
                "prompt",
                ("text", "source", "content_hash", "split_group", "meta", "created_at"),
                prompts,
            )
            insert(
                conn,
                "response",
                (
                    "text",
                    "role",
                    "model_id",
                    "backend",
                    "content_hash",
                    "prompt_id",
                    "sampling_params",
                    "principle",
                    "round",
                    "usage",
                    "created_at",
                ),
                responses,
            )
            insert(
                conn,
                "pair",
                (
                    "prompt_id",
                    "response_a_id",
                    "response_b_id",
                    "source",
                    "content_hash",
                    "created_at",
                ),
                pairs,
            )
            insert(
                conn,
                "judgment",
                (
                    "pair_id",
                    "kind",
                    "judge",
                    "principle",
                    "presentation_order",
                    "preferred",
                    "prob_a",
                    "status",
                    "is_aggregate",
                    "key_hash",
                    "judge_backend",
                    "constitution_hash",
                    "source",
                    "meta",
                    "created_at",
                    "updated_at",
                ),
                judgments,
            )
        return len(judgments)

    return timed(write)


def run_store_ingestor(url: str, n: int, judges: int) -> tuple[float, float, int]:
    from accord.store.bundles import bundle_from_preference
    from accord.store.db import session_scope
    from accord.store.ingest import StoreIngestor
    from accord.store.models._base import utcnow

    engine = fresh_store(url)
    now = utcnow()
    bundles = [bundle_from_preference(r, now=now) for r in records(n, judges, uuid.uuid4().hex[:8])]

    def write() -> int:
        with session_scope(engine) as s:
            return StoreIngestor(s).ingest(bundles).judgments

    return timed(write)


def run_preference_ingestor(url: str, n: int, judges: int, again: bool = False):
    from accord.store.db import session_scope
    from accord.store.ingest import PreferenceIngestor

    engine = fresh_store(url)
    recs = list(records(n, judges, uuid.uuid4().hex[:8]))

    def write() -> int:
        with session_scope(engine) as s:
            counts = PreferenceIngestor(s, batch_size=1000).ingest(recs)
        return counts.judgments + counts.unchanged

    first = timed(write)
    return (first, timed(write)) if again else (first, None)


def run_import(url: str, n: int, folder: Path) -> tuple[float, float, int]:
    from accord.importer import import_file

    path = folder / f"bench-{uuid.uuid4().hex[:8]}.jsonl"
    with open(path, "w") as f:
        f.writelines(
            json.dumps({"prompt": rec.prompt, "chosen": rec.chosen, "rejected": rec.rejected})
            + "\n"
            for rec in records(n, 1, path.stem)
        )
    engine = fresh_store(url)
    return timed(lambda: import_file(engine, path, fmt="trl").new["judgments"])


def line(
    label: str,
    result: tuple[float, float, int],
    n_records: int,
    ceiling: tuple[float, float] | None,
    cpu: bool,
) -> tuple[float, float]:
    wall, cpu_s, n_judgments = result
    rates = (n_judgments / wall, n_judgments / cpu_s)
    text_ = f"  {label:<30} {n_records / wall:>9,.0f} rec/s {rates[0]:>9,.0f} j/s wall"
    if cpu:
        text_ += f" {rates[1]:>9,.0f} j/s CPU"
    if ceiling:
        text_ += f"   {rates[0] / ceiling[0]:4.2f}× wall"
        if cpu:
            text_ += f"  {rates[1] / ceiling[1]:4.2f}× CPU"
    print(text_, flush=True)
    return rates


def best(runs) -> tuple[float, float, int]:
    """The fastest wall time and the least CPU time among repeated runs (a shared machine
    only ever slows a run down)."""
    runs = list(runs)
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]


def bench_backend(
    name: str,
    make_url,
    folder: Path,
    pairs: int,
    heavy_pairs: int,
    judges: int,
    index_proposal: bool = False,
    repeat: int = 1,
) -> None:
    cpu = not make_url("x").startswith("postgresql")
    print(f"\n{name}   (ratios: to the raw driver on the same load, same run; best of {repeat})")
    for load, n, per_pair in (
        ("records-heavy", pairs, 1),
        ("judgments-heavy", heavy_pairs, judges),
    ):
        print(f" {load}: {n:,} pairs × {per_pair} judgment{'s' if per_pair > 1 else ''}")
        ceiling = line(
            "raw driver (ceiling)",
            best(run_raw(make_url("raw"), n, per_pair) for _ in range(repeat)),
            n,
            None,
            cpu,
        )
        if index_proposal:
            line(
                "raw, judge+source indexes fewer",
                best(
                    run_raw(make_url("raw"), n, per_pair, CANDIDATE_JUDGMENT_INDEXES)
                    for _ in range(repeat)
                ),
                n,
                ceiling,
                cpu,
            )
        line(
            "StoreIngestor (bundles)",
            best(run_store_ingestor(make_url("store"), n, per_pair) for _ in range(repeat)),
            n,
            ceiling,
            cpu,
        )
        runs = [
            run_preference_ingestor(make_url("pref"), n, per_pair, again=True)
            for _ in range(repeat)
        ]
        line("PreferenceIngestor (records)", best(r[0] for r in runs), n, ceiling, cpu)
        line("  again (all unchanged)", best(r[1] for r in runs), n, ceiling, cpu)
        if per_pair == 1:
            line(
                "accord import (TRL file)",
                best(run_import(make_url("import"), n, folder) for _ in range(repeat)),
                n,
                ceiling,
                cpu,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20_000, help="records-heavy load")
    parser.add_argument("--heavy-pairs", type=int, default=5_000, help="judgments-heavy load")
    parser.add_argument("--judges", type=int, default=8, help="AI judgments per pair (heavy load)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each line; the best is printed (for loaded machines)",
    )
    parser.add_argument(
        "--index-proposal",
        action="store_true",
        help="also measure the raw driver without CANDIDATE_JUDGMENT_INDEXES",
    )
    args = parser.parse_args()
    print(
        f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}; "
        f"target: {TARGET:,} judgments/s on SQLite"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_backend(
            "SQLite (file, WAL)",
            lambda name: f"sqlite:///{folder / uuid.uuid4().hex}.db",
            folder,
            args.pairs,
            args.heavy_pairs,
            args.judges,
            args.index_proposal,
            args.repeat,
        )
        pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
        if pg:
            try:
                bench_backend(
                    "PostgreSQL",
                    lambda name: pg,
                    folder,
                    args.pairs,
                    args.heavy_pairs,
                    args.judges,
                    args.index_proposal,
                    args.repeat,
                )
            finally:
                drop_created_databases(pg)
        else:
            print("\nPostgreSQL: set ACCORD_BENCH_POSTGRES_URL to an empty database to measure it")


if __name__ == "__main__":
    main()
