"""Snapshot build + export at scale (target: 1M pairs built and exported in ≤ 30 s).

Why: researchers freeze large stores into snapshots before every training run; building and
exporting must not be the slow part. Fills a fresh store with N pairs (each with one human and
one AI judgment), then times `create_snapshot` (policy human-over-ai and soft) and the TRL export,
on SQLite and, with --postgres URL, on PostgreSQL side by side.

    python bench/bench_snapshot.py --pairs 1000000
    python bench/bench_snapshot.py --pairs 1000000 --postgres postgresql+psycopg://accord:accord@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.snapshots import create_snapshot, export_snapshot
from accord.store.db import open_store, session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord


def records(n: int):
    for i in range(n):
        yield PreferenceRecord(
            prompt=f"Question {i // 2}: how would you explain topic {i % 997}?",
            chosen=f"A careful answer number {i} with some detail.", rejected=f"Short answer {i}.",
            source="bench",
            judgments=[JudgmentSpec(kind="human", annotator=f"ann{i % 7}"),
                       JudgmentSpec(kind="ai", judge="judge-model", prob_chosen=0.6 + (i % 4) / 10)])


def run(url: str, n: int, label: str) -> dict[str, float]:
    engine = open_store(url)
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        counts = PreferenceIngestor(s, batch_size=10_000).ingest(records(n))
    t_ingest = time.perf_counter() - t0
    out: dict[str, float] = {"ingest_s": t_ingest, "judgments_per_s": counts.judgments / t_ingest}
    for policy in ("human-over-ai", "soft"):
        t0 = time.perf_counter()
        create_snapshot(engine, name=f"bench-{policy}", policy=policy, test_fraction=0.1)
        t_build = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            export_snapshot(engine, name=f"bench-{policy}", fmt="trl", out_dir=Path(tmp))
            t_export = time.perf_counter() - t0
        out[f"{policy}_build_s"] = t_build
        out[f"{policy}_export_s"] = t_export
        out[f"{policy}_total_s"] = t_build + t_export
    print(f"{label:>10}: " + "  ".join(f"{k}={v:,.1f}" for k, v in out.items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--postgres", help="admin URL of a PostgreSQL server (a scratch database is made)")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.pairs, "sqlite")
    if args.postgres:
        name = f"accord_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            results["postgres"] = run(url, args.pairs, "postgres")
        finally:
            from accord.store.db import dispose_all

            dispose_all()
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    target = 30.0
    for backend, r in results.items():
        t = r["human-over-ai_total_s"]
        print(f"{backend}: snapshot build+export of {args.pairs:,} pairs: {t:.1f} s "
              f"(target ≤ {target:.0f} s: {'met' if t <= target else 'NOT met'}; ratio {t / target:.2f})")
    if len(results) == 2:
        print(f"postgres / sqlite build+export time: "
              f"{results['postgres']['human-over-ai_total_s'] / results['sqlite']['human-over-ai_total_s']:.2f}x")


if __name__ == "__main__":
    main()
