"""Calibration and escalation of an AI judge on pairs with real human labels (e.g. HH-RLHF).

Why: the trust layer promises that kept AI labels agree with humans at a target rate, and
that a calibrated judge's soft labels say what humans would. This measures both on a store
where every pair carries the judge's soft label and a human label (the store
``bench/bench_agreement.py --keep DIR`` leaves behind, ``DIR/accord.db``):

- the human-labelled pairs are split in two halves by a seeded coin: the calibration half plays
  the pairs with human labels, the held-out half the AI-only pairs whose truth is known;
- calibration: temperature, Platt and isotonic maps, ECE and Brier before → after, out of
  sample by cross-fitting (``accord.audit.calibration_fit.calibration_report``) on every pair;
- escalation at each target (default 0.7, 0.8, 0.9; ``--delta`` 0.1), raw and with a
  temperature map fitted on the calibration half: the threshold certified on the calibration
  half, the coverage on the held-out half (share of its AI labels kept) and the agreement of
  those kept labels with the held-out human labels (the promise: ≥ target).

    python bench/bench_agreement.py --hh hh-rlhf-harmless-test-1k.jsonl --limit 1000 --keep hh
    python bench/bench_trust.py --db sqlite:///hh/accord.db --judge accord/smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))


def escalation_figures(
    prob,
    outcome,
    *,
    targets=(0.7, 0.8, 0.9),
    delta: float = 0.1,
    seed: int = 0,
    calibrate: bool = False,
) -> list[dict[str, Any]]:
    """Certify on a seeded half, measure coverage and realised agreement on the other half."""
    from accord.audit.calibration_fit import fit_calibration
    from accord.audit.escalation import certify_escalation

    p, y = np.asarray(prob, dtype=float), np.asarray(outcome, dtype=int)
    half = np.random.default_rng(seed).uniform(size=p.size) < 0.5
    if calibrate:
        p = fit_calibration(p[half], y[half], method="temperature").apply(p)
    confidence = np.maximum(p, 1.0 - p)
    agrees = np.where(p == 0.5, False, (p > 0.5) == (y == 1))
    rows = []
    for target in targets:
        cert = certify_escalation(confidence[half], agrees[half], target=target, delta=delta)
        held = ~half
        kept = (
            held & (confidence >= cert.threshold)
            if cert.threshold is not None
            else np.zeros_like(held)
        )
        rows.append(
            {
                "target": target,
                "delta": delta,
                "calibrated": calibrate,
                "threshold": cert.threshold,
                "n_calibration": int(half.sum()),
                "agreement_lower": cert.agreement_lower,
                "n_held_out": int(held.sum()),
                "held_out_coverage": round(float(kept.sum() / max(held.sum(), 1)), 4),
                "held_out_agreement": (
                    round(float(agrees[kept].mean()), 4) if kept.any() else None
                ),
            }
        )
    return rows


def calibration_figures(prob, outcome, *, resamples: int = 1000, seed: int = 0) -> list[dict]:
    from accord.audit.calibration_fit import METHODS, calibration_report

    rows = []
    for method in METHODS:
        report = calibration_report(prob, outcome, method=method, n_resamples=resamples, seed=seed)
        rows.append(
            {
                "method": method,
                "n": report["n"],
                "params": report["map"]["params"]
                if method != "isotonic"
                else {"knots": len(report["map"]["params"]["x"])},
                "ece": report["ece"],
                "brier": report["brier"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="Store URL with judged, human-labelled pairs.")
    parser.add_argument("--judge", required=True, help="Judge model id as its judgments name it.")
    parser.add_argument("--constitution", help="Constitution (when the judge used several).")
    parser.add_argument("--targets", default="0.7,0.8,0.9", help="Comma-separated targets.")
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()

    from accord.audit.calibration_data import (
        JudgeSelection,
        load_labelled_pairs,
        resolve_constitution,
    )
    from accord.store.db import open_store

    engine = open_store(args.db)
    selection = JudgeSelection(
        judge=args.judge, constitution_hash=resolve_constitution(engine, args.constitution)
    )
    data = load_labelled_pairs(engine, selection)
    keep = data.labelled
    if keep.sum() < 40:
        sys.exit(f"{selection.describe()}: {int(keep.sum())} pairs carry both labels; need 40")
    prob, outcome = data.prob[keep], data.outcome[keep]
    targets = tuple(float(t) for t in args.targets.split(","))
    figures = {
        "judge": args.judge,
        "pairs": int(keep.sum()),
        "raw_agreement": round(float(np.mean((prob > 0.5) == (outcome == 1))), 4),
        "calibration": calibration_figures(prob, outcome, resamples=args.resamples, seed=args.seed),
        "escalation": [
            *escalation_figures(prob, outcome, targets=targets, delta=args.delta, seed=args.seed),
            *escalation_figures(
                prob, outcome, targets=targets, delta=args.delta, seed=args.seed, calibrate=True
            ),
        ],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['pairs']} pairs with both labels; raw agreement {figures['raw_agreement']:.3f}"
    )
    for row in figures["calibration"]:
        e, b = row["ece"], row["brier"]
        print(
            f"  {row['method']:<11} ECE {e['before']['value']:.3f} → {e['after']['value']:.3f} "
            f"[{e['after']['ci'][0]:.3f}, {e['after']['ci'][1]:.3f}]  Brier "
            f"{b['before']['value']:.3f} → {b['after']['value']:.3f}  {row['params']}"
        )
    for row in figures["escalation"]:
        mode = "temperature" if row["calibrated"] else "raw"
        if row["threshold"] is None:
            print(f"  target {row['target']:.2f} ({mode}): no threshold certified")
            continue
        print(
            f"  target {row['target']:.2f} ({mode}): threshold {row['threshold']:.3f}, held-out "
            f"coverage {row['held_out_coverage']:.1%}, agreement of kept labels "
            f"{row['held_out_agreement']}"
        )


if __name__ == "__main__":
    main()
