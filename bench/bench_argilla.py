"""Push and pull rates for 10,000 pairs against a real local Argilla server.

Why: annotation rounds move thousands of pairs at once; this measures how fast accord sends
them to Argilla (new records, then an idempotent re-push that sends nothing) and brings the
answers back (new judgments, then an idempotent re-pull), in one run, side by side.

    python bench/bench_argilla.py                 # starts its own server on free ports
    python bench/bench_argilla.py --pairs 2000    # a quicker look
    ARGILLA_API_URL=... ARGILLA_API_KEY=... python bench/bench_argilla.py --use-running

The server's virtual environment is taken from ACCORD_TEST_ARGILLA_VENV (default
~/.cache/accord/argilla-server-venv) and built there on first use.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def seed(engine, n: int) -> list[int]:
    from sqlmodel import select

    from accord.store.db import session_scope
    from accord.store.ingest import PreferenceIngestor, PreferenceRecord
    from accord.store.models import Pair

    records = [
        PreferenceRecord(
            prompt=f"Question {i}: what is {i} * 3?",
            chosen=f"It is **{3 * i}**.",
            rejected=f"It is {3 * i + 1}.",
            source="bench",
            judgments=[],
        )
        for i in range(n)
    ]
    with session_scope(engine) as session:
        PreferenceIngestor(session).ingest(records)
    with session_scope(engine) as session:
        return list(session.exec(select(Pair.id).order_by(Pair.id)).all())


def annotate_all(connection, dataset_id: str, user_id: str) -> int:
    """Answers for every record on behalf of one annotator, logged in bulk the way the SDK's
    ``records.log`` does (500 per call; far faster than one POST per response)."""
    from accord.feedback.argilla.pull import iter_record_pages

    ids = [r["id"] for page, _ in iter_record_pages(connection, dataset_id) for r in page]
    for start in range(0, len(ids), 500):
        items = [
            {
                "id": rid,
                "responses": [
                    {
                        "user_id": user_id,
                        "status": "submitted",
                        "values": {"preference": {"value": "ab"[i % 2]}},
                    }
                ],
            }
            for i, rid in enumerate(ids[start : start + 500])
        ]
        r = connection.http.put(
            f"/api/v1/datasets/{dataset_id}/records/bulk", json={"items": items}, timeout=600
        )
        r.raise_for_status()
    return len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument(
        "--use-running",
        action="store_true",
        help="use ARGILLA_API_URL/ARGILLA_API_KEY instead of starting a server",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from accord.feedback.argilla import pull_judgments, push_pairs
    from accord.feedback.argilla.client import connect
    from accord.feedback.argilla.local import LocalArgilla, LocalArgillaConfig
    from accord.feedback.argilla.users import create_user
    from accord.store.db import open_store

    workdir = Path(tempfile.mkdtemp(prefix="bench-argilla-"))
    launcher = None
    if args.use_running:
        url, key = os.environ["ARGILLA_API_URL"], os.environ["ARGILLA_API_KEY"]
    else:
        port, search_port, redis_port = free_ports(3)
        venv = os.environ.get(
            "ACCORD_TEST_ARGILLA_VENV",
            str(Path.home() / ".cache" / "accord" / "argilla-server-venv"),
        )
        launcher = LocalArgilla(
            LocalArgillaConfig(
                home=workdir / "argilla",
                venv=venv,
                port=port,
                search_port=search_port,
                redis_port=redis_port,
            ),
            echo=lambda m: print(f"  [local] {m}", file=sys.stderr),
        )
        t0 = time.perf_counter()
        launcher.start()
        print(f"local server started in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        url, key = launcher.config.api_url, launcher.config.api_key
    try:
        connection = connect(api_url=url, api_key=key)
        engine = open_store(f"sqlite:///{workdir / 'store.db'}")
        t0 = time.perf_counter()
        pair_ids = seed(engine, args.pairs)
        print(f"seeded {len(pair_ids)} pairs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        name = f"bench-{uuid.uuid4().hex[:8]}"

        rows = []

        def timed(label: str, fn, count_of):
            start = time.perf_counter()
            out = fn()
            seconds = time.perf_counter() - start
            rows.append((label, count_of(out), seconds))
            print(f"  {label}: {seconds:.1f} s", file=sys.stderr)
            return out

        pushed = timed(
            "push (new records)",
            lambda: push_pairs(engine, dataset=name, workspace=name, connection=connection),
            lambda r: r.created,
        )
        timed(
            "push again (all unchanged)",
            lambda: push_pairs(engine, dataset=name, workspace=name, connection=connection),
            lambda r: r.unchanged,
        )
        annotator = create_user(
            connection, username=f"{name}-ann", password="bench-pass-1", workspace=name
        )
        timed(
            "annotate (bulk log, not accord)",
            lambda: annotate_all(connection, pushed.dataset_id, annotator.id),
            lambda n: n,
        )
        timed(
            "pull (new judgments)",
            lambda: pull_judgments(engine, dataset=name, connection=connection),
            lambda r: r.created,
        )
        timed(
            "pull again (all unchanged)",
            lambda: pull_judgments(engine, dataset=name, connection=connection),
            lambda r: r.unchanged,
        )

        base = rows[0][1] / rows[0][2]
        print(f"\n{args.pairs} pairs, Argilla 2.8 local (SQLite + noida-db), store on SQLite\n")
        print("| step | items | seconds | items/s | vs first push |")
        print("|---|---:|---:|---:|---:|")
        for label, count, seconds in rows:
            rate = count / seconds
            print(f"| {label} | {count} | {seconds:.1f} | {rate:,.0f} | {rate / base:.2f}x |")
    finally:
        if launcher is not None:
            launcher.stop(wipe=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
