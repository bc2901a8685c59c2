"""Ingest rate of imports: records/s and judgments/s, side by side, in one run.

Why: imports of public preference sets (hundreds of thousands of pairs) and RLAIF jobs that
write several AI judgments per pair (principles × presentation orders) all go through the
batched write path; the target is ≥ 50,000 judgments/s on SQLite on 2 cores. This script
measures, on fresh stores:

- ``raw sqlite``: the driver's own ``executemany`` of ready-made judgment rows into the
  judgment table (the ceiling the schema and its indexes allow on this machine);
- ``store ingest``: ``accord.store.ingest.PreferenceIngestor``;
- ``import path``: ``accord.fast_ingest.FastIngestor``, the path ``accord import`` uses;
- ``accord import``: end to end from a TRL JSONL file (read, validate, hash, write);

for a records-heavy load (1 human judgment per pair) and a judgments-heavy one (several AI
judgments per pair), and prints rates and ratios. With ``ACCORD_BENCH_POSTGRES_URL`` set
(an empty, writable database) the same runs go to PostgreSQL too.

    python bench/bench_ingest.py                      # 20,000 pairs; 5,000 pairs × 8 judges
    python bench/bench_ingest.py --pairs 5000 --judges 8 --skip-slow
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


def records(n_pairs: int, judges: int, tag: str):
    from accord.store.ingest import JudgmentSpec, PreferenceRecord

    for i in range(n_pairs):
        specs = [JudgmentSpec(kind="ai", judge=f"judge-{j // 2}", principle=f"p{j // 2}",
                              presentation_order="ab" if j % 2 == 0 else "ba",
                              prob_chosen=0.7) for j in range(judges)] if judges > 1 else None
        yield PreferenceRecord(prompt=f"{tag} question {i}: how do I keep basil alive?",
                               chosen=f"Water it when the soil is dry ({i}).",
                               rejected=f"Never water it ({i}).", source="bench",
                               judgments=specs)


def fresh_sqlite(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}.db"


def run_store_ingest(url: str, n: int, judges: int) -> tuple[float, int]:
    from accord.store.db import open_store, session_scope
    from accord.store.ingest import PreferenceIngestor

    engine = open_store(url)
    recs = list(records(n, judges, uuid.uuid4().hex[:8]))
    start = time.perf_counter()
    with session_scope(engine) as s:
        counts = PreferenceIngestor(s).ingest(recs)
    return time.perf_counter() - start, counts.judgments


def run_fast_ingest(url: str, n: int, judges: int) -> tuple[float, int]:
    from accord.fast_ingest import FastIngestor, bundle_from_preference
    from accord.store.db import open_store, session_scope

    engine = open_store(url)
    recs = list(records(n, judges, uuid.uuid4().hex[:8]))
    start = time.perf_counter()
    with session_scope(engine) as s:
        counts = FastIngestor(s).ingest(bundle_from_preference(r) for r in recs)
    return time.perf_counter() - start, counts.judgments


def run_import(url: str, n: int, folder: Path) -> tuple[float, int]:
    from accord.importer import import_file
    from accord.store.db import open_store

    path = folder / f"bench-{uuid.uuid4().hex[:8]}.jsonl"
    with open(path, "w") as f:
        f.writelines(json.dumps({"prompt": rec.prompt, "chosen": rec.chosen,
                                "rejected": rec.rejected}) + "\n" for rec in records(n, 1, path.stem))
    engine = open_store(url)
    start = time.perf_counter()
    report = import_file(engine, path, fmt="trl")
    return time.perf_counter() - start, report.new["judgments"]


def run_raw_sqlite(url: str, n_judgments: int) -> tuple[float, int]:
    """The driver alone: ready rows into the judgment table, one executemany."""
    from accord.store.db import open_store

    engine = open_store(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO prompt (text, source, content_hash, split_group, meta, "
                          "created_at) VALUES ('p', '', 'p', 'g', '{}', '2025-01-01')"))
        conn.execute(text("INSERT INTO response (text, role, model_id, backend, content_hash, "
                          "prompt_id, sampling_params, principle, round, usage, created_at) "
                          "VALUES ('r', 'initial', '', '', 'r1', 1, '{}', '', 0, '{}', '2025-01-01'),"
                          " ('s', 'initial', '', '', 'r2', 1, '{}', '', 0, '{}', '2025-01-01')"))
        conn.execute(text("INSERT INTO pair (prompt_id, response_a_id, response_b_id, source, "
                          "content_hash, created_at) VALUES (1, 1, 2, '', 'x', '2025-01-01')"))
    rows = [(1, "ai", f"judge-{i}", "", "ab", "a", 0.7, "submitted", 0, uuid.uuid4().hex * 2,
             "import", "", "bench", "{}", "2025-01-01 00:00:00.000000",
             "2025-01-01 00:00:00.000000") for i in range(n_judgments)]
    sql = ("INSERT INTO judgment (pair_id, kind, judge, principle, presentation_order, preferred, "
           "prob_a, status, is_aggregate, key_hash, judge_backend, constitution_hash, source, "
           "meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
           " ON CONFLICT (key_hash) DO NOTHING")
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(sql, rows)
    return time.perf_counter() - start, n_judgments


def line(label: str, seconds: float, n_records: int, n_judgments: int, base: float | None) -> float:
    rate = n_judgments / seconds
    ratio = f"{rate / base:5.2f}×" if base else "     "
    print(f"  {label:<34} {n_records / seconds:>10,.0f} rec/s {rate:>10,.0f} judgments/s  {ratio}")
    return rate


def bench_backend(name: str, make_url, folder: Path, pairs: int, heavy_pairs: int, judges: int,
                  skip_slow: bool) -> None:
    print(f"\n{name}")
    if make_url("raw").startswith("sqlite"):
        secs, nj = run_raw_sqlite(make_url("raw"), heavy_pairs * judges)
        line("raw sqlite executemany (ceiling)", secs, nj, nj, None)
    print(f" records-heavy: {pairs:,} pairs, 1 judgment each")
    base = None
    if not skip_slow:
        secs, nj = run_store_ingest(make_url("store1"), pairs, 1)
        base = line("store ingest (PreferenceIngestor)", secs, pairs, nj, None)
    secs, nj = run_fast_ingest(make_url("fast1"), pairs, 1)
    line("import path (FastIngestor)", secs, pairs, nj, base)
    secs, nj = run_import(make_url("import1"), pairs, folder)
    line("accord import (TRL file, end to end)", secs, pairs, nj, base)
    print(f" judgments-heavy: {heavy_pairs:,} pairs × {judges} AI judgments")
    base = None
    if not skip_slow:
        secs, nj = run_store_ingest(make_url("store8"), heavy_pairs, judges)
        base = line("store ingest (PreferenceIngestor)", secs, heavy_pairs, nj, None)
    secs, nj = run_fast_ingest(make_url("fast8"), heavy_pairs, judges)
    line("import path (FastIngestor)", secs, heavy_pairs, nj, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20_000, help="records-heavy load")
    parser.add_argument("--heavy-pairs", type=int, default=5_000, help="judgments-heavy load")
    parser.add_argument("--judges", type=int, default=8, help="AI judgments per pair (heavy load)")
    parser.add_argument("--skip-slow", action="store_true", help="skip the PreferenceIngestor runs")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_backend("SQLite (file, WAL)", lambda n: fresh_sqlite(folder, n), folder,
                      args.pairs, args.heavy_pairs, args.judges, args.skip_slow)
        pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
        if pg:
            bench_backend("PostgreSQL", lambda n: pg, folder, args.pairs, args.heavy_pairs,
                          args.judges, args.skip_slow)
        else:
            print("\nPostgreSQL: set ACCORD_BENCH_POSTGRES_URL to an empty database to measure it")


if __name__ == "__main__":
    main()
