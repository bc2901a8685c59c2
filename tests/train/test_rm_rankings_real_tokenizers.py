"""Grouped reward-model batches and the Plackett–Luce loss on real tokenizers (SmolLM2's
byte-level BPE and the SentencePiece-style Llama): the trainer's batch holds whole rankings,
its token ids are the conversation tokenized once (BOS once), and its loss equals the same
loss computed here from each response's reward, read by an unpadded forward pass of its own."""

from __future__ import annotations

import json
import math

import pytest
import torch

from accord.importer import import_file
from accord.snapshots import create_snapshot
from accord.store.db import open_store
from accord.train.data import load_snapshot, preference_columns
from accord.train.rm import load_reward_model
from accord.train.rm_groups import group_columns, grouped_trainer_class

pytestmark = pytest.mark.slow  # real tokenizers and weights

RANKINGS = [
    (
        "How do I boil an egg?",
        [
            "Put the egg in boiling water for about eight minutes, then cool it.",
            "Eggs are a kind of blue rock.",
            "Boil water, add the egg, wait.",
            "I do not know.",
        ],
        [1, 4, 2, 3],
    ),
    ("Name a colour.", ["Blue.", "A car.", "Red is a colour."], [2, 3, 1]),
    ("What is 2 + 2?", ["4", "5", "It is 4.", "Twenty-two."], [1, 3, 1, 4]),
]


@pytest.fixture(scope="module", params=("smollm2", "sp_llama"))
def reward_model(request):
    name = "smollm2_dir" if request.param == "smollm2" else "sp_llama_reward_dir"
    torch.manual_seed(0)  # SmolLM2 gets a fresh scalar head
    model, tokenizer = load_reward_model(str(request.getfixturevalue(name)))
    return request.param, model.eval(), tokenizer


def ranked_rows(tmp_path):
    path = tmp_path / "ranks.jsonl"
    path.write_text(
        "".join(
            json.dumps({"prompt": p, "responses": rs, "ranking": ranks, "annotator": "ann"}) + "\n"
            for p, rs, ranks in RANKINGS
        )
    )
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert import_file(engine, path, fmt="ranking").rankings == 3
    create_snapshot(engine, name="ranked", policy="human-over-ai", test_fraction=0.0)
    return load_snapshot("ranked", engine=engine).train_rows


def own_ids(tokenizer, prompt: str, answer: str) -> list[int]:
    """prompt + answer + EOS, tokenized once with the tokenizer's own special tokens."""
    return tokenizer(prompt + answer + tokenizer.eos_token)["input_ids"]


def plackett_luce_by_hand(rows, rewards) -> float:
    """Per ranking: order its responses by comparisons won (ties: first seen first), then
    −Σ_i [r_i − log Σ_{j≥i} exp r_j]; the mean over rankings."""
    losses = []
    for group in dict.fromkeys(r["group"] for r in rows):
        mine = [r for r in rows if r["group"] == group]
        seen = list(dict.fromkeys([r["chosen"] for r in mine] + [r["rejected"] for r in mine]))
        wins = {x: sum(r["chosen"] == x for r in mine) for x in seen}
        order = sorted(seen, key=lambda x: -wins[x])
        r = [rewards[(mine[0]["prompt"], x)] for x in order]
        losses.append(
            sum(math.log(sum(math.exp(v) for v in r[i:])) - r[i] for i in range(len(r) - 1))
        )
    return sum(losses) / len(losses)


def test_grouped_batch_and_losses_equal_an_independent_reading(reward_model, tmp_path):
    import datasets
    from trl import RewardConfig

    which, model, tokenizer = reward_model
    rows = ranked_rows(tmp_path)
    assert all(r["group"] for r in rows)
    columns = {**preference_columns(rows), **group_columns(rows)}
    trainer = grouped_trainer_class()(
        model=model,
        args=RewardConfig(
            output_dir=str(tmp_path / "rm"),
            per_device_train_batch_size=len(rows),  # every ranking in one batch
            max_length=256,
            report_to=[],
            seed=0,
            bf16=False,
            use_cpu=True,
        ),
        train_dataset=datasets.Dataset.from_dict(columns),
        processing_class=tokenizer,
        loss="plackett-luce",
    )
    batch = next(iter(trainer.get_train_dataloader()))
    assert sorted(batch["group_index"].tolist()) == sorted(columns["group_index"])  # whole
    # each response's reward from ids tokenized here, one unpadded sequence at a time
    rewards, ids_of = {}, {}
    with torch.no_grad():
        for r in rows:
            for side in ("chosen", "rejected"):
                ids = own_ids(tokenizer, r["prompt"], r[side])
                if which == "sp_llama":  # BOS once, first
                    assert ids.count(tokenizer.bos_token_id) == 1
                    assert ids[0] == tokenizer.bos_token_id
                ids_of[(r["prompt"], r[side])] = tuple(ids)
                rewards[(r["prompt"], r[side])] = (
                    model(input_ids=torch.tensor([ids])).logits[0, 0].item()
                )
    # the batch's sequences are exactly those ids: chosen half, then rejected half
    ids, mask = batch["input_ids"], batch["attention_mask"]
    sequences = [tuple(ids[i][mask[i].bool()].tolist()) for i in range(len(ids))]
    n = len(sequences) // 2
    by_pair = {
        (ids_of[(r["prompt"], r["chosen"])], ids_of[(r["prompt"], r["rejected"])]): r for r in rows
    }
    batch_rows = [by_pair[pair] for pair in zip(sequences[:n], sequences[n:])]
    listwise = trainer.compute_loss(model, dict(batch)).item()
    assert listwise == pytest.approx(plackett_luce_by_hand(batch_rows, rewards), abs=1e-3)
    trainer.listwise = False  # trl's pairwise loss on the same grouped batch
    pairwise = trainer.compute_loss(model, dict(batch)).item()
    margins = [
        rewards[(r["prompt"], r["chosen"])] - rewards[(r["prompt"], r["rejected"])]
        for r in batch_rows
    ]
    want = sum(math.log1p(math.exp(-m)) for m in margins) / len(margins)
    assert pairwise == pytest.approx(want, abs=1e-3)
