"""The full agreement audit of 1,000,000 judgments over 200,000 pairs must take ≤ 10 s.

Why: an audit runs before every snapshot and inside the dashboard, so it has to stay fast on
a whole store, not on a sample. This script builds a synthetic store once (cached in
bench/results/), then times loading the judgments with SQL and building the whole report
(human–human with bootstrap intervals, human–AI by constitution / principle / judge,
calibration, position consistency, principle agreement, annotators, length bias, the
disagreement queue) and prints the figures beside the target and beside the reference
``krippendorff`` package on the same human data.

    python bench/bench_audit.py                   # 200,000 pairs, 1,000,000 judgments
    python bench/bench_audit.py --pairs 20000     # a quick run (100,000 judgments)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np

from accord.audit.bootstrap import BootstrapConfig
from accord.audit.disagreements import score_disagreements
from accord.audit.loader import load_audit_data
from accord.audit.report import AuditConfig, build_report
from accord.store.db import open_store
from accord.store.keys import judgment_key, pair_key, prompt_key, response_key, split_group
from accord.store.models._base import utcnow

RESULTS = Path(__file__).parent / "results"
TARGET_SECONDS = 10.0
N_ANNOTATORS = 60


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _labels(prob_a: np.ndarray, tie_band: float = 0.05) -> np.ndarray:
    out = np.where(prob_a > 0.5, "a", "b").astype(object)
    out[np.abs(prob_a - 0.5) <= tie_band] = "tie"
    return out


def _sql_value(value):
    if isinstance(value, dict):
        return json.dumps(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ")
    return value


def build_store(url: str, n_pairs: int, seed: int = 0) -> None:
    """Prompts, responses, pairs and judgments (per pair: 3 rows from judge-small with both
    orders and the aggregate, 1 from judge-large on half the pairs, 1-3 human labels)."""
    rng = np.random.default_rng(seed)
    engine = open_store(url)
    now = utcnow()
    constitutions = [("hh", "1", "hash-v1"), ("hh", "2", "hash-v2")]
    prompt_rows, response_rows, pair_rows = [], [], []
    lengths = rng.lognormal(5.0, 0.8, size=(n_pairs, 2)).astype(int) + 1
    for i in range(n_pairs):
        text = f"bench prompt {i}"
        ph = prompt_key(text)
        prompt_rows.append(
            {
                "id": i + 1,
                "text": text,
                "source": "bench",
                "content_hash": ph,
                "split_group": split_group(text),
                "meta": {},
                "created_at": now,
            }
        )
        hashes = []
        for side in range(2):
            rtext = f"response {i}.{side} " + "x" * int(lengths[i, side])
            rh = response_key(ph, rtext)
            rid = 2 * i + side + 1
            hashes.append((rh, rid, len(rtext)))
            response_rows.append(
                {
                    "id": rid,
                    "text": rtext,
                    "role": "initial",
                    "model_id": "bench",
                    "backend": "import",
                    "content_hash": rh,
                    "prompt_id": i + 1,
                    "sampling_params": {},
                    "principle": "",
                    "round": 0,
                    "usage": {},
                    "created_at": now,
                }
            )
        (ha, ida, la), (hb, idb, lb) = sorted(hashes)
        lengths[i] = (la, lb)
        pair_rows.append(
            {
                "id": i + 1,
                "prompt_id": i + 1,
                "response_a_id": ida,
                "response_b_id": idb,
                "source": "bench",
                "content_hash": pair_key(ha, hb),
                "created_at": now,
            }
        )
    pair_hash = [r["content_hash"] for r in pair_rows]
    quality = rng.normal(0.0, 1.0, n_pairs)
    longer_a = np.sign(lengths[:, 0] - lengths[:, 1])
    truth_a = rng.random(n_pairs) < _sigmoid(2.0 * quality)

    judgments: list[dict] = []

    def add(
        pairs,
        judge,
        kind,
        labels,
        prob,
        order="",
        principle="",
        const=("", None),
        aggregate=False,
        annotator=None,
    ):
        for p, lab, pr, ann in zip(
            pairs.tolist(),
            labels.tolist(),
            prob.tolist() if prob is not None else [None] * len(pairs),
            annotator.tolist() if annotator is not None else [None] * len(pairs),
        ):
            jname = judge if ann is None else f"annotator-{ann}"
            chash = const[0] if isinstance(const[0], str) else const[0][p]
            judgments.append(
                {
                    "pair_id": p + 1,
                    "kind": kind,
                    "judge": jname,
                    "principle": principle,
                    "presentation_order": order,
                    "preferred": lab,
                    "prob_a": pr,
                    "status": "submitted",
                    "is_aggregate": aggregate,
                    "key_hash": judgment_key(
                        pair_hash[p],
                        jname,
                        kind=kind,
                        presentation_order=order,
                        principle=principle,
                        constitution_hash=chash,
                    ),
                    "annotator_id": None if ann is None else ann + 1,
                    "judge_backend": "bench",
                    "constitution_hash": chash,
                    "source": "bench",
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )

    everyone = np.arange(n_pairs)
    const_of_pair = np.where(everyone % 2 == 0, "hash-v1", "hash-v2")
    base = 1.5 * quality + 0.5 * longer_a
    p_ab = _sigmoid(base + 0.4)  # first-shown side favoured
    p_ba = _sigmoid(base - 0.4)
    p_agg = (p_ab + p_ba) / 2.0
    for order, prob in (("ab", p_ab), ("ba", p_ba)):
        add(everyone, "judge-small", "ai", _labels(prob), prob, order, "helpful", (const_of_pair,))
    add(everyone, "judge-small", "ai", _labels(p_agg), p_agg, "agg", "", (const_of_pair,), True)
    half = everyone[: n_pairs // 2]
    p_large = _sigmoid(3.0 * quality[half])
    add(half, "judge-large", "ai", _labels(p_large), p_large, "", "", ("hash-v2", None))

    accuracy = rng.uniform(0.55, 0.95, N_ANNOTATORS)
    accuracy[:2] = 0.97  # the gold annotators
    triple = everyone[: int(n_pairs * 0.3)]
    single = everyone[int(n_pairs * 0.3) : int(n_pairs * 0.9)]
    who = np.argsort(rng.random((len(triple), N_ANNOTATORS)), axis=1)[:, :3]
    human_pairs = np.concatenate([np.repeat(triple, 3), single])
    human_ann = np.concatenate([who.ravel(), rng.integers(0, N_ANNOTATORS, len(single))])
    right = rng.random(len(human_pairs)) < accuracy[human_ann]
    truth = np.where(truth_a[human_pairs], "a", "b").astype(object)
    noise = rng.choice(np.array(["a", "b", "tie"], dtype=object), len(human_pairs))
    add(human_pairs, "", "human", np.where(right, truth, noise), None, annotator=human_ann)

    tables = {
        "annotator": [
            {
                "id": i + 1,
                "username": f"annotator-{i}",
                "source": "import",
                "is_gold": i < 2,
                "created_at": now,
            }
            for i in range(N_ANNOTATORS)
        ],
        "constitution": [
            {
                "name": n,
                "version": v,
                "content_hash": h,
                "text": "",
                "description": "",
                "created_at": now,
            }
            for n, v, h in constitutions
        ],
        "prompt": prompt_rows,
        "response": response_rows,
        "pair": pair_rows,
        "judgment": judgments,
    }
    # Plain DB-API executemany: the ORM would spend minutes on a million rows of setup.
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, rows in tables.items():
            columns = list(rows[0])
            sql = (
                f"INSERT INTO {name} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            cur.executemany(sql, ([_sql_value(r[c]) for c in columns] for r in rows))
        raw.commit()
    finally:
        raw.close()
    print(f"built {len(judgments):,} judgments over {n_pairs:,} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--db", default=None, help="store URL (default: a cached SQLite file)")
    args = parser.parse_args()
    url = args.db
    if url is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"audit-store-{args.pairs}.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            started = time.perf_counter()
            build_store(f"sqlite:///{path}.partial", args.pairs)
            from accord.store.db import dispose_all

            dispose_all()
            Path(f"{path}.partial").rename(path)
            print(f"store built in {time.perf_counter() - started:.1f} s")
    engine = open_store(url)

    # Wall time is what the target is about; CPU time of this process is printed beside it
    # because on a shared machine the wall clock also counts other people's work.
    marks = [(time.perf_counter(), time.process_time())]
    data = load_audit_data(engine)
    marks.append((time.perf_counter(), time.process_time()))
    config = AuditConfig(bootstrap=BootstrapConfig(n_resamples=args.resamples, seed=0))
    report = build_report(data, config=config, engine=engine)
    marks.append((time.perf_counter(), time.process_time()))
    queue = score_disagreements(data)
    marks.append((time.perf_counter(), time.process_time()))
    json.dumps(report.to_dict())
    marks.append((time.perf_counter(), time.process_time()))
    total_wall = marks[-1][0] - marks[0][0]
    total_cpu = marks[-1][1] - marks[0][1]

    # The reference package on the same human–human data (raters × units matrix).
    import krippendorff

    human = data.human_reliability_matrix()
    r0 = time.process_time()
    ref_alpha = krippendorff.alpha(reliability_data=human, level_of_measurement="nominal")
    r1 = time.process_time()
    from accord.audit.metrics import krippendorff_alpha

    ours = krippendorff_alpha(human, level_of_measurement="nominal")
    r2 = time.process_time()

    print(
        f"\njudgments {len(data.label):,}  pairs {len(data.pair_ids):,}  "
        f"resamples {args.resamples}  queue {len(queue):,}  load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'stage':<34}{'wall s':>10}{'cpu s':>10}")
    stages = ("load (SQL → arrays)", "report", "disagreement queue", "json")
    for name, (a, b) in zip(stages, itertools.pairwise(marks)):
        print(f"{name:<34}{b[0] - a[0]:>10.2f}{b[1] - a[1]:>10.2f}")
    print(
        f"{'full audit':<34}{total_wall:>10.2f}{total_cpu:>10.2f}   target {TARGET_SECONDS:.0f} s: "
        f"wall {total_wall / TARGET_SECONDS:.2f}×, cpu {total_cpu / TARGET_SECONDS:.2f}× of target"
    )
    print(f"{'alpha: krippendorff package (cpu)':<34}{'':>10}{r1 - r0:>10.3f}   α={ref_alpha:.6f}")
    print(
        f"{'alpha: accord.audit (cpu)':<34}{'':>10}{r2 - r1:>10.3f}   α={ours:.6f}   "
        f"ratio ×{(r1 - r0) / max(r2 - r1, 1e-9):.2f}"
    )


if __name__ == "__main__":
    main()
