"""Reward-model training on rankings: all comparisons of one ranking in one batch, and a
Plackett–Luce listwise loss.

InstructGPT trained its reward model on all (K choose 2) comparisons of a ranking as one batch
element: spread over batches, the comparisons of one reading are seen many times per epoch and
the model overfits. A snapshot export marks the examples expanded from one ranking with its
``group`` (``accord.snapshots.examples``); ``GroupedBatchSampler`` packs whole groups into
batches (a group larger than the batch size is one batch of its own; examples without a group
are groups of one), and ``GroupedRewardTrainer`` is trl's ``RewardTrainer`` reading batches
from it.

With ``loss="plackett-luce"`` a group's comparisons are scored as one list: its responses are
ordered by how many of the group's comparisons each won, and the loss is the negative
log-likelihood of that order under Plackett–Luce, −Σ_i [r_(i) − log Σ_{j≥i} exp r_(j)], per
group, averaged over the groups of the batch (two responses: the Bradley–Terry loss). Ties
keep the order of first appearance.

>>> sampler = GroupedBatchSampler([0, 0, 0, -1, 1, 1, 1, -1], batch_size=4, seed=0)
>>> [{0, 1, 2} <= set(b) or not {0, 1, 2} & set(b) for b in sampler.batches]  # group 0 whole
[True, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

GROUP_COLUMNS = ("group_index", "chosen_item", "rejected_item")


def group_columns(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per row: its group's index (-1: no group) and item ids of its chosen and rejected
    response, equal for the same response within a group."""
    groups: dict[str, int] = {}
    items: dict[tuple, int] = {}
    out: dict[str, list[int]] = {c: [] for c in GROUP_COLUMNS}
    for n, row in enumerate(rows):
        key = row.get("group")
        g = groups.setdefault(key, len(groups)) if key is not None else -1
        scope = g if g >= 0 else ("row", n)
        out["group_index"].append(g)
        for side, column in (("chosen", "chosen_item"), ("rejected", "rejected_item")):
            text = row[side] if isinstance(row[side], str) else repr(row[side])
            out[column].append(items.setdefault((scope, text), len(items)))
    return out


class GroupedBatchSampler(torch.utils.data.Sampler):
    """Batches of row indices holding whole groups.

    Groups (rows sharing ``groups[i] >= 0``; a row with -1 is alone) are shuffled once with
    ``seed`` and packed in that order into batches of at most ``batch_size`` rows (a group
    that does not fit closes the batch); a larger group is a batch by itself. The batches are
    fixed; each epoch visits them in a seeded order.
    """

    def __init__(self, groups: Sequence[int], *, batch_size: int, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        members: dict[Any, list[int]] = {}
        for i, g in enumerate(groups):
            members.setdefault(int(g) if g >= 0 else ("row", i), []).append(i)
        units = list(members.values())
        rng = np.random.default_rng(seed)
        batches: list[list[int]] = []
        current: list[int] = []
        for u in rng.permutation(len(units)).tolist():
            unit = units[u]
            if current and len(current) + len(unit) > batch_size:
                batches.append(current)
                current = []
            current = current + unit
            if len(current) >= batch_size:
                batches.append(current)
                current = []
        if current:
            batches.append(current)
        self.batches = batches
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.batches))
        self.epoch += 1
        for b in order.tolist():
            yield list(self.batches[b])


def plackett_luce_loss(
    rewards_chosen: torch.Tensor,
    rewards_rejected: torch.Tensor,
    group: torch.Tensor,
    chosen_item: torch.Tensor,
    rejected_item: torch.Tensor,
) -> torch.Tensor:
    """Mean over the batch's groups of the Plackett–Luce negative log-likelihood of the order
    the group's comparisons imply (see the module docstring)."""
    losses = []
    rows_by_group: dict[Any, list[int]] = {}
    for i, g in enumerate(group.tolist()):
        rows_by_group.setdefault(g if g >= 0 else ("row", i), []).append(i)
    for rows in rows_by_group.values():
        idx = torch.tensor(rows, device=rewards_chosen.device)
        items = torch.cat([chosen_item[idx], rejected_item[idx]])
        values = torch.cat([rewards_chosen[idx], rewards_rejected[idx]])
        ids = list(dict.fromkeys(items.tolist()))  # first appearance order
        at = {item: n for n, item in enumerate(ids)}
        which = torch.tensor([at[i] for i in items.tolist()], device=values.device)
        # each response's reward (the mean of its appearances: the same text scores the same)
        sums = torch.zeros(len(ids), dtype=values.dtype, device=values.device)
        sums = sums.index_add(0, which, values)
        counts = torch.bincount(which, minlength=len(ids)).to(values.dtype)
        reward = sums / counts
        wins = torch.bincount(which[: len(rows)], minlength=len(ids))
        order = sorted(range(len(ids)), key=lambda n: -int(wins[n]))  # stable: ties keep order
        r = reward[torch.tensor(order, device=values.device)]
        tails = torch.logcumsumexp(r.flip(0), dim=0).flip(0)  # log Σ_{j≥i} exp r_j
        losses.append((tails[:-1] - r[:-1]).sum())
    return torch.stack(losses).mean()


def grouped_trainer_class():
    """``RewardTrainer`` with grouped batches and the optional listwise loss (built on use:
    trl is imported only when training)."""
    from trl import RewardTrainer

    class GroupedRewardTrainer(RewardTrainer):
        """trl's RewardTrainer reading ``GroupedBatchSampler`` batches; ``loss`` is
        ``bradley-terry`` (trl's pairwise loss) or ``plackett-luce``."""

        def __init__(self, *args, loss: str = "bradley-terry", **kwargs):
            self.listwise = loss == "plackett-luce"
            self.seen_groups: list[list[int]] = []  # per training batch: its group indices
            super().__init__(*args, **kwargs)
            inner = self.data_collator

            def collate(examples: list[dict[str, Any]]) -> dict[str, Any]:
                extra = {
                    c: [ex.pop(c) for ex in examples] for c in GROUP_COLUMNS if c in examples[0]
                }
                batch = inner(examples)
                batch.update({c: torch.tensor(v) for c, v in extra.items()})
                return batch

            self.data_collator = collate

        def _set_signature_columns_if_needed(self):
            if self._signature_columns is None:
                self._signature_columns = ["chosen_ids", "rejected_ids", "margin", *GROUP_COLUMNS]

        def get_train_dataloader(self):
            dataset = self._remove_unused_columns(self.train_dataset, description="training")
            self.group_sampler = GroupedBatchSampler(
                dataset["group_index"],
                batch_size=self._train_batch_size,
                seed=self.args.seed,
            )
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_sampler=self.group_sampler,
                collate_fn=self.data_collator,
                num_workers=self.args.dataloader_num_workers,
                pin_memory=self.args.dataloader_pin_memory,
            )
            return self.accelerator.prepare(loader)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            extra = {c: inputs.pop(c) for c in GROUP_COLUMNS if c in inputs}
            if model.training and "group_index" in extra:
                self.seen_groups.append(extra["group_index"].tolist())
            if not (self.listwise and extra):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            inputs["use_cache"] = False
            outputs = model(**inputs)
            rewards_chosen, rewards_rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            loss = plackett_luce_loss(
                rewards_chosen,
                rewards_rejected,
                extra["group_index"],
                extra["chosen_item"],
                extra["rejected_item"],
            )
            if self.args.center_rewards_coefficient is not None:
                loss = loss + self.args.center_rewards_coefficient * torch.mean(
                    (rewards_chosen + rewards_rejected) ** 2
                )
            mode = "train" if model.training else "eval"
            with torch.no_grad():
                accuracy = (rewards_chosen > rewards_rejected).float().mean().item()
                self._metrics[mode]["accuracy"].append(accuracy)
            return (loss, outputs) if return_outputs else loss

    return GroupedRewardTrainer
