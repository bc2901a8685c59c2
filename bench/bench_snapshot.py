"""Snapshot build + export at scale (target: 1M pairs built and exported in ≤ 30 s).

Why: researchers freeze large stores into snapshots before every training run; building and
exporting must not be the slow part. Fills a store with N pairs (each with one human and
one AI judgment), then times `create_snapshot` (policy human-over-ai and soft) and the TRL export,
on SQLite and, with --postgres URL, on PostgreSQL side by side. The dataset card that `export`
writes beside the data by default (an audit of the snapshot's judgments) is timed on its own.

Seeding is not part of the target, so the seeded store is kept and reused by later runs with
the same --pairs (--reseed to make it again): on SQLite a file under bench/results/, copied to
a scratch file for each run; on PostgreSQL a database `accord_bench_snapshot_seed_N`, the
template of each run's scratch database (--drop-seed removes it after the run).

    python bench/bench_snapshot.py --pairs 1000000
    python bench/bench_snapshot.py --pairs 1000000 --postgres postgresql+psycopg://accord:accord@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.snapshots import create_snapshot, export_snapshot, get_snapshot
from accord.snapshots.card import write_card
from accord.store.db import open_store, session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord


def records(n: int):
    for i in range(n):
        yield PreferenceRecord(
            prompt=f"Question {i // 2}: how would you explain topic {i % 997}?",
            chosen=f"A careful answer number {i} with some detail.",
            rejected=f"Short answer {i}.",
            source="bench",
            judgments=[
                JudgmentSpec(kind="human", annotator=f"ann{i % 7}"),
                JudgmentSpec(kind="ai", judge="judge-model", prob_chosen=0.6 + (i % 4) / 10),
            ],
        )


RESULTS = Path(__file__).resolve().parent / "results"


def seed(url: str, n: int) -> dict[str, float]:
    engine = open_store(url)
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        counts = PreferenceIngestor(s, batch_size=10_000).ingest(records(n))
    t_ingest = time.perf_counter() - t0
    return {"ingest_s": t_ingest, "judgments_per_s": counts.judgments / t_ingest}


def run(url: str, label: str, seeded: dict[str, float]) -> dict[str, float]:
    engine = open_store(url)
    out: dict[str, float] = dict(seeded)
    for policy in ("human-over-ai", "soft"):
        t0, c0 = time.perf_counter(), time.process_time()
        create_snapshot(engine, name=f"bench-{policy}", policy=policy, test_fraction=0.1)
        t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            export_snapshot(
                engine, name=f"bench-{policy}", fmt="trl", out_dir=Path(tmp), card=False
            )
            t_export, c_export = time.perf_counter() - t0, time.process_time() - c0
            # The dataset card (README.md beside the data, written by default) audits the
            # snapshot's judgments: timed on its own, outside the build + export target.
            t0 = time.perf_counter()
            write_card(engine, get_snapshot(engine, f"bench-{policy}"), Path(tmp), fmt="trl")
            t_card = time.perf_counter() - t0
        out[f"{policy}_build_s"] = t_build
        out[f"{policy}_export_s"] = t_export
        out[f"{policy}_total_s"] = t_build + t_export
        # This process's CPU time: what the run costs when it has a core to itself (the
        # database server's time is not in it on PostgreSQL).
        out[f"{policy}_cpu_s"] = c_build + c_export
        out[f"{policy}_card_s"] = t_card
    print(f"{label:>10}: " + "  ".join(f"{k}={v:,.1f}" for k, v in out.items()), flush=True)
    return out


def run_sqlite(n: int, *, reseed: bool) -> dict[str, float]:
    from accord.store.db import dispose_all

    RESULTS.mkdir(exist_ok=True)
    kept = RESULTS / f"snapshot-store-{n}.db"
    seeded: dict[str, float] = {}
    if reseed or not kept.exists():
        for f in RESULTS.glob(f"{kept.name}*"):
            f.unlink()
        building = RESULTS / f"snapshot-store-{n}.seeding.db"
        seeded = seed(f"sqlite:///{building}", n)
        dispose_all()  # the last connection closing checkpoints the WAL into the file
        building.rename(kept)
    else:
        open_store(f"sqlite:///{kept}")  # brings a kept store up to the current migrations, once
        dispose_all()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(kept, f"{tmp}/bench.db")
        try:
            return run(f"sqlite:///{tmp}/bench.db", "sqlite", seeded)
        finally:
            dispose_all()


def run_postgres(admin_url: str, n: int, *, reseed: bool, drop_seed: bool) -> dict[str, float]:
    from accord.store.db import dispose_all

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    seed_db, name = f"accord_bench_snapshot_seed_{n}", f"accord_bench_{uuid.uuid4().hex[:8]}"
    seeded: dict[str, float] = {}
    with admin.connect() as c:
        have = c.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": seed_db}
        ).first()
        if reseed or not have:
            c.execute(text(f'DROP DATABASE IF EXISTS "{seed_db}" WITH (FORCE)'))
            # Seeded under a scratch name and renamed when complete: an interrupted seed is never
            # reused.
            c.execute(text(f'DROP DATABASE IF EXISTS "{seed_db}_partial" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{seed_db}_partial"'))
            seeded = seed(
                make_url(admin_url)
                .set(database=f"{seed_db}_partial")
                .render_as_string(hide_password=False),
                n,
            )
            dispose_all()
            c.execute(text(f'ALTER DATABASE "{seed_db}_partial" RENAME TO "{seed_db}"'))
        else:  # a kept seed comes up to the current migrations once, not in every copy
            open_store(
                make_url(admin_url).set(database=seed_db).render_as_string(hide_password=False)
            )
            dispose_all()
        # A store in use has been vacuumed and analyzed by autovacuum: so is the seed (hint
        # bits set, planner statistics), or the first build would pay for both. Quick when done.
        seed_engine = create_engine(
            make_url(admin_url).set(database=seed_db), isolation_level="AUTOCOMMIT"
        )
        with seed_engine.connect() as sc:
            sc.execute(text("VACUUM (ANALYZE)"))
        seed_engine.dispose()
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{seed_db}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return run(url, "postgres", seeded)
    finally:
        dispose_all()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if drop_seed:
                c.execute(text(f'DROP DATABASE IF EXISTS "{seed_db}" WITH (FORCE)'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument(
        "--postgres", help="admin URL of a PostgreSQL server (a scratch database is made)"
    )
    ap.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    ap.add_argument(
        "--reseed", action="store_true", help="seed again instead of reusing the kept store"
    )
    ap.add_argument(
        "--drop-seed", action="store_true", help="drop the kept PostgreSQL seed database after"
    )
    args = ap.parse_args()
    results = {}
    if not args.no_sqlite:
        results["sqlite"] = run_sqlite(args.pairs, reseed=args.reseed)
    if args.postgres:
        results["postgres"] = run_postgres(
            args.postgres, args.pairs, reseed=args.reseed, drop_seed=args.drop_seed
        )
    target = 30.0
    print(
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    for backend, r in results.items():
        t = r["human-over-ai_total_s"]
        print(
            f"{backend}: snapshot build+export of {args.pairs:,} pairs: {t:.1f} s "
            f"(target ≤ {target:.0f} s: {'met' if t <= target else 'NOT met'}; ratio "
            f"{t / target:.2f}); the dataset card on top: {r['human-over-ai_card_s']:.1f} s"
        )
    if len(results) == 2:
        pg, lite = (results[db]["human-over-ai_total_s"] for db in ("postgres", "sqlite"))
        print(f"postgres / sqlite build+export time: {pg / lite:.2f}x")


if __name__ == "__main__":
    main()
