"""Reward models on rankings: all comparisons of one ranking in one batch (InstructGPT's
recipe) and the Plackett–Luce listwise loss, on a real ranked snapshot built with the tiny
model (generate K responses, judge their pairs, rank them, snapshot, train)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from accord.train.rm_config import RewardTrainConfig
from accord.train.rm_groups import GroupedBatchSampler, group_columns, plackett_luce_loss
from tests.fixtures.tiny_backend import recorder, store, tiny_backend  # noqa: F401


def _whole_groups(batches, groups):
    size = {}
    for g in groups:
        if g >= 0:
            size[g] = size.get(g, 0) + 1
    for batch in batches:
        inside = [groups[i] for i in batch if groups[i] >= 0]
        assert all(inside.count(g) == size[g] for g in set(inside)), batch


def test_batches_hold_whole_groups_and_big_groups_alone():
    groups = [0] * 6 + [-1] * 3 + [1] * 6 + [2] * 2 + [-1]
    sampler = GroupedBatchSampler(groups, batch_size=4, seed=1)
    batches = sampler.batches
    _whole_groups(batches, groups)
    assert sorted(i for b in batches for i in b) == list(range(len(groups)))
    assert sorted(len(b) for b in batches if len(b) > 4) == [6, 6]  # a ranking is never split
    first, second = list(sampler), list(sampler)
    assert len(first) == len(second) == len(sampler)
    assert sorted(map(sorted, first)) == sorted(map(sorted, second))  # same batches, new order
    with pytest.raises(ValueError, match="batch_size"):
        GroupedBatchSampler(groups, batch_size=0)


def test_group_columns_number_groups_and_items():
    rows = [
        {"chosen": "a", "rejected": "b", "group": "g1"},
        {"chosen": "a", "rejected": "c", "group": "g1"},
        {"chosen": "a", "rejected": "b"},
        {"chosen": "b", "rejected": "c", "group": "g1"},
    ]
    cols = group_columns(rows)
    assert cols["group_index"] == [0, 0, -1, 0]
    assert cols["chosen_item"][0] == cols["chosen_item"][1]  # "a" in g1 is one item
    assert cols["rejected_item"][0] == cols["chosen_item"][3]  # "b" in g1 is one item
    assert cols["chosen_item"][2] not in (cols["chosen_item"][0], cols["rejected_item"][0])


def test_plackett_luce_loss_matches_its_formula_and_bradley_terry_for_two():
    # one ranking a > b > c: comparisons (a,b), (a,c), (b,c); rewards 2, 1, -1
    r = {"a": 2.0, "b": 1.0, "c": -1.0}
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    ids = {"a": 0, "b": 1, "c": 2}
    rc = torch.tensor([r[x] for x, _ in pairs])
    rr = torch.tensor([r[y] for _, y in pairs])
    group = torch.zeros(3, dtype=torch.long)
    loss = plackett_luce_loss(
        rc,
        rr,
        group,
        torch.tensor([ids[x] for x, _ in pairs]),
        torch.tensor([ids[y] for _, y in pairs]),
    )
    expected = -(
        2.0
        - math.log(math.exp(2) + math.exp(1) + math.exp(-1))
        + 1.0
        - math.log(math.exp(1) + math.exp(-1))
    )
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # a pair on its own: the Bradley–Terry loss
    one = plackett_luce_loss(
        torch.tensor([0.3]),
        torch.tensor([-0.2]),
        torch.tensor([-1]),
        torch.tensor([0]),
        torch.tensor([1]),
    )
    assert one.item() == pytest.approx(-torch.nn.functional.logsigmoid(torch.tensor(0.5)).item())


def test_config_checks_the_loss():
    with pytest.raises(ValueError, match="loss must be one of"):
        RewardTrainConfig(snapshot="x", loss="hinge")
    with pytest.raises(ValueError, match="needs group_batches"):
        RewardTrainConfig(snapshot="x", loss="plackett-luce", group_batches=False)


def _ranked_snapshot(store, recorder, tmp_path):  # noqa: F811
    """Four responses per prompt from the tiny model, ranked by the tiny judge, snapshotted."""
    from accord.jobs import run_recipe
    from accord.snapshots import create_snapshot

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"prompt": t}) + "\n"
            for t in ("Name a fruit.", "Say hello.", "Count to three.", "Name a colour.")
        )
    )
    recipe = {
        "name": "ranked",
        "models": {
            "policy": {"backend": "transformers", "model": "accord/tiny"},
            "judge": {"backend": "transformers", "model": "accord/tiny"},
        },
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 4, "max_tokens": 8, "temperature": 1.0},
            {"kind": "make_pairs"},
            {"kind": "judge", "constitution": "tiny-test", "orders": "one", "batch_size": 8},
            {"kind": "rank"},
        ],
    }
    result = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert result.status == "succeeded"
    create_snapshot(store, name="ranked", policy="ai-only", test_fraction=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["bradley-terry", "plackett-luce"])
def test_rm_trains_on_whole_rankings_per_batch(
    store,
    recorder,
    tiny_model_dir,
    tmp_path,
    loss,  # noqa: F811
):
    from accord.train.data import load_snapshot
    from accord.train.rm import train_rm

    _ranked_snapshot(store, recorder, tmp_path)
    snap = load_snapshot("ranked", engine=store)
    rows = snap.train_rows
    groups = [r["group"] for r in rows]
    assert all(g is not None for g in groups)  # every example came from a ranking
    sizes = {g: groups.count(g) for g in set(groups)}
    assert len(sizes) >= 3 and max(sizes.values()) >= 3  # K ≥ 3: (K choose 2) ≥ 3 per ranking
    # the batches the trainer reads: whole rankings, never split
    cols = group_columns(rows)
    _whole_groups(
        GroupedBatchSampler(cols["group_index"], batch_size=4, seed=0).batches, cols["group_index"]
    )
    result = train_rm(
        RewardTrainConfig(
            snapshot="ranked",
            model=str(tiny_model_dir),
            db_url=str(store.url),
            output_dir=str(tmp_path / "rm"),
            max_steps=4,
            per_device_train_batch_size=4,
            learning_rate=1e-3,
            loss=loss,
            save_model=False,
        ),
        engine=store,
    )
    m = result.metrics
    assert m["rm_grouped_batches"] is True and m["rm_groups"] == len(sizes)
    assert m["rm_batches_splitting_a_group"] == 0 and m["rm_loss"] == loss
    assert all(math.isfinite(h["loss"]) for h in result.history if "loss" in h)
