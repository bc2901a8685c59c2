"""Scoring (prompt, completion) pairs with a frozen reward model, the way it was trained.

``score_texts`` reads the reward with ``accord.train.reward_read.read_rewards``: the same
rendering as trl's RewardTrainer (``prompt + completion + eos`` with the tokenizer's BOS, or the
conversation through the chat template) and the head at the position it pools during training.
A pair longer than ``max_length`` tokens is not cut (cutting drops the EOS the head reads
beside): its reward is NaN, and held-out evaluation drops the pair, as trl drops over-long
training pairs. ``bt_calibration`` compares σ(r_c − r_r) with the labels: exact reward ties
count ½ in the accuracy, and labels within ``label_band`` of 0.5 (no real preference) are left
out of the accuracy and counted. ``resolve_reward_model`` turns ``RUN_OR_PATH`` (a run id/name
of an ``rm`` run, or a model folder/id) into a loadable path.

>>> from accord.train.scoring import bt_calibration
>>> c = bt_calibration([2.0, 0.0, 1.0], [0.0, 0.0, 3.0], [1.0, 0.9, 0.5])
>>> c["accuracy"], c["reward_ties"], c["undecided_labels"], c["n_decided"]
(0.75, 1, 1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import torch


def resolve_reward_model(run_or_path: str, *, engine=None, db_url: str | None = None) -> str:
    """A reward model folder from a run id/name (its artifact path) or a model id/folder."""
    from accord.models.loading import resolve_model_path

    if Path(run_or_path).is_dir():
        return str(run_or_path)
    if run_or_path.startswith("accord/") or "/" in run_or_path and not run_or_path.isdigit():
        return resolve_model_path(run_or_path)
    from accord.store.db import open_store, session_scope

    from .runs import get_run

    with session_scope(engine or open_store(db_url)) as session:
        run = get_run(session, run=run_or_path)
        if run.kind != "rm":
            raise ValueError(
                f"run {run_or_path!r} is a {run.kind} run, not a reward model (rm) run"
            )
        if run.status != "completed" or not run.artifact_path:
            raise ValueError(
                f"reward model run {run_or_path!r} has no finished model (status {run.status})"
            )
        return run.artifact_path


def score_texts(
    model,
    tokenizer,
    prompts: Sequence,
    completions: Sequence,
    *,
    batch_size: int = 16,
    max_length: int | None = 512,
) -> torch.Tensor:
    """Reward of each (prompt, completion), text or messages; NaN where the rendered pair is
    longer than ``max_length`` tokens (such pairs are dropped, never truncated)."""
    from .reward_read import read_rewards

    return read_rewards(
        model, tokenizer, prompts, completions, max_length=max_length, batch_size=batch_size
    )


def bt_calibration(
    chosen_rewards: Sequence[float],
    rejected_rewards: Sequence[float],
    labels: Sequence[float | None],
    *,
    bins: int = 10,
    label_band: float = 0.05,
) -> dict[str, float]:
    """Pairwise accuracy and calibration of P = σ(r_c − r_r) against the snapshot's labels.

    ``labels`` are P(chosen ≻ rejected) (None: a hard label, 1.0). Pairs with a NaN reward
    (dropped as too long) are left out and counted (``dropped``). Accuracy is over pairs whose
    label says who wins (|p − 0.5| > ``label_band``; the others are ``undecided_labels``): the
    reward model is right when its gap has the label's sign, and an exact reward tie
    (``reward_ties``) counts ½. Brier score, expected calibration error over ``bins``
    equal-width bins of predicted P, log loss and the mean predicted / labelled probability use
    every kept pair, soft labels as they are.
    """
    if not 0.0 <= label_band < 0.5:
        raise ValueError(f"label_band must be in [0, 0.5), got {label_band}")
    rc = torch.as_tensor(list(chosen_rewards), dtype=torch.float64)
    rr = torch.as_tensor(list(rejected_rewards), dtype=torch.float64)
    y = torch.tensor([1.0 if v is None else float(v) for v in labels], dtype=torch.float64)
    if not (len(rc) == len(rr) == len(y)):
        raise ValueError(
            f"{len(rc)} chosen rewards, {len(rr)} rejected rewards and {len(y)} labels"
        )
    kept = ~(torch.isnan(rc) | torch.isnan(rr))
    dropped = int((~kept).sum())
    rc, rr, y = rc[kept], rr[kept], y[kept]
    n = len(y)
    if n == 0:
        return {"n": 0, "dropped": dropped}
    pred = torch.sigmoid(rc - rr)
    ece = 0.0
    edges = torch.linspace(0, 1, bins + 1)
    for lo, hi in pairwise(edges):
        in_bin = (pred >= lo) & ((pred < hi) if hi < 1 else (pred <= hi))
        if in_bin.any():
            ece += (
                in_bin.sum().item() / n * abs(pred[in_bin].mean().item() - y[in_bin].mean().item())
            )
    decided = (y - 0.5).abs() > label_band
    winner = torch.sign(y - 0.5)  # +1: chosen preferred, −1: rejected preferred
    gap = torch.sign(rc - rr)  # 0: an exact tie
    credit = torch.where(gap == 0, 0.5, (gap == winner).double())
    n_decided = int(decided.sum())
    return {
        "n": n,
        "dropped": dropped,
        "n_decided": n_decided,
        "undecided_labels": n - n_decided,
        "reward_ties": int((gap == 0).sum()),
        "accuracy": credit[decided].mean().item() if n_decided else float("nan"),
        "brier": ((pred - y) ** 2).mean().item(),
        "ece": ece,
        "mean_predicted_prob": pred.mean().item(),
        "mean_label_prob": y.mean().item(),
        "log_loss": -(
            y * torch.log(pred.clamp(1e-12)) + (1 - y) * torch.log((1 - pred).clamp(1e-12))
        )
        .mean()
        .item(),
    }
