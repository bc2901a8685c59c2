"""Scoring (prompt, completion) texts with a frozen reward model, the way it was trained.

trl's RewardTrainer sees ``prompt + completion + eos`` tokenised as one text and reads the scalar
head at the last non-padding token; ``score_texts`` does exactly that, in batches, without
gradients. ``resolve_reward_model`` turns ``RUN_OR_PATH`` (a run id/name of an ``rm`` run, or a
model folder/id) into a loadable path.

>>> from accord.train.scoring import bt_calibration
>>> round(bt_calibration([2.0, -1.0], [0.0, 0.0], [1.0, 0.0])["accuracy"], 2)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
            raise ValueError(f"run {run_or_path!r} is a {run.kind} run, not a reward model (rm) run")
        if run.status != "completed" or not run.artifact_path:
            raise ValueError(f"reward model run {run_or_path!r} has no finished model (status {run.status})")
        return run.artifact_path


def with_eos(text: str, eos: str | None) -> str:
    return text if not eos or text.endswith(eos) else text + eos


@torch.no_grad()
def score_texts(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], *,
                batch_size: int = 16, max_length: int | None = 512) -> torch.Tensor:
    """Reward of each ``prompt + completion`` (one float per pair of texts)."""
    texts = [with_eos(p + c, tokenizer.eos_token) for p, c in zip(prompts, completions, strict=True)]
    device = next(model.parameters()).device
    scores = []
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=max_length is not None,
                            max_length=max_length, add_special_tokens=False).to(device)
            scores.append(model(**enc).logits[:, 0].float().cpu())
    finally:
        tokenizer.padding_side = side
    return torch.cat(scores) if scores else torch.zeros(0)


def bt_calibration(chosen_rewards: Sequence[float], rejected_rewards: Sequence[float],
                   labels: Sequence[float | None], *, bins: int = 10) -> dict[str, float]:
    """Pairwise accuracy and calibration of P = σ(r_c − r_r) against the snapshot's labels.

    ``labels`` are P(chosen ≻ rejected) (1.0 for hard labels). Returns accuracy (r_c > r_r),
    Brier score, expected calibration error over ``bins`` equal-width bins of predicted P, the
    mean predicted and mean labelled probability, and the count.
    """
    rc = torch.as_tensor(list(chosen_rewards), dtype=torch.float64)
    rr = torch.as_tensor(list(rejected_rewards), dtype=torch.float64)
    y = torch.tensor([1.0 if v is None else float(v) for v in labels], dtype=torch.float64)
    n = len(y)
    if n == 0:
        return {"n": 0}
    pred = torch.sigmoid(rc - rr)
    ece = 0.0
    edges = torch.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (pred >= lo) & ((pred < hi) if hi < 1 else (pred <= hi))
        if in_bin.any():
            ece += in_bin.sum().item() / n * abs(pred[in_bin].mean().item() - y[in_bin].mean().item())
    return {
        "n": n,
        "accuracy": (rc > rr).double().mean().item(),
        "brier": ((pred - y) ** 2).mean().item(),
        "ece": ece,
        "mean_predicted_prob": pred.mean().item(),
        "mean_label_prob": y.mean().item(),
        "log_loss": -(y * torch.log(pred.clamp(1e-12)) + (1 - y) * torch.log((1 - pred).clamp(1e-12))).mean().item()
        if not math.isnan(pred.sum().item()) else float("nan"),
    }
