"""`accord train sft --snapshot NAME` on a demonstrations snapshot: the tiny model through the
CLI, and SmolLM2-135M-Instruct with its real chat template (user turn, then the demonstration
as the assistant's turn; BOS exactly once; the loss on the demonstration's tokens only)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from accord.cli.train import app as train_app
from accord.snapshots.demonstrations import create_demonstration_snapshot
from accord.store.db import open_store
from accord.train.chat import bos_count
from accord.train.data import load_snapshot, sft_columns
from accord.train.sft import SFTTrainConfig, train_sft
from tests.fixtures.demonstrations import seed_demonstrations

runner = CliRunner()


@pytest.fixture
def demo_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    engine = open_store(url)
    seed_demonstrations(engine)
    snap = create_demonstration_snapshot(engine, name="demos", test_fraction=0.25, seed=1)
    return url, engine, snap


def test_a_demonstrations_snapshot_loads_as_sft_rows(demo_store):
    url, engine, snap = demo_store
    data = load_snapshot("demos", engine=engine)
    assert data.is_demonstrations and data.content_hash == snap.content_hash
    assert len(data.train_rows) == snap.n_train and len(data.test_rows) == snap.n_test
    row = data.train_rows[0]
    assert row["prompt"][0]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    chat = sft_columns(data.train_rows, chat_template=True)
    plain = sft_columns(data.train_rows, chat_template=False)
    assert chat["prompt"][0] == row["prompt"] and chat["completion"][0] == row["completion"]
    assert plain["prompt"][0] == row["prompt"][0]["content"] + "\n"
    assert plain["completion"][0] == row["completion"][0]["content"]
    # preference trainers refuse demonstrations with a clear message
    from accord.train.dpo import DPOTrainConfig, train_dpo

    with pytest.raises(ValueError, match="holds human demonstrations"):
        train_dpo(DPOTrainConfig(snapshot="demos", model="accord/tiny", db_url=url), engine=engine)


@pytest.mark.slow
def test_train_sft_on_demonstrations_with_the_tiny_model(demo_store, tiny_model_dir, tmp_path):
    url, _, snap = demo_store
    result = runner.invoke(
        train_app,
        [
            "sft",
            "--snapshot",
            "demos",
            "--model",
            str(tiny_model_dir),
            "--max-steps",
            "6",
            "--learning-rate",
            "0.001",
            "--db",
            url,
            "--output-dir",
            str(tmp_path / "sft"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{") :])
    metrics = out["metrics"]
    assert metrics["target"] == "demonstrations" and metrics["n_examples"] == snap.n_train
    assert metrics["rendering"] == "chat template"  # the tiny model has one too
    bad = runner.invoke(
        train_app,
        ["sft", "--snapshot", "demos", "--target", "revisions", "--db", url, "--max-steps", "1"],
    )
    assert bad.exit_code == 1 and "holds human demonstrations" in " ".join(bad.output.split())


@pytest.mark.slow
def test_train_sft_on_demonstrations_with_smollm2(demo_store, smollm2_dir, tmp_path):
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    url, engine, snap = demo_store
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    data = load_snapshot("demos", engine=engine)
    columns = sft_columns(data.train_rows, chat_template=True)
    # the inputs trl builds from these columns: the model's template, BOS once, loss on the
    # demonstration only
    sft = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(smollm2_dir),
        args=SFTConfig(
            output_dir=str(tmp_path / "probe"),
            max_steps=1,
            report_to="none",
            use_cpu=True,
            completion_only_loss=True,
        ),
        processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_dict(columns),
    )
    example = sft.train_dataset[0]
    ids = example["input_ids"]
    mask = [label != -100 for label in example["labels"]]  # trl's labels: -100 off the loss
    messages = [*columns["prompt"][0], *columns["completion"][0]]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    own = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert bos_count(tokenizer, ids) == bos_count(tokenizer, own) >= 1
    assert ids[:2] != [tokenizer.bos_token_id] * 2
    assert tokenizer.decode(ids).startswith(rendered[:30])  # <|im_start|>system …
    completion = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    assert columns["completion"][0][0]["content"] in completion
    assert columns["prompt"][0][0]["content"] not in completion

    result = train_sft(
        SFTTrainConfig(
            snapshot="demos",
            model=str(smollm2_dir),
            db_url=url,
            output_dir=str(tmp_path / "sft"),
            max_steps=2,
            max_length=128,
            save_model=False,
        ),
        engine=engine,
    )
    assert result.metrics["rendering"] == "chat template"
    assert result.metrics["n_examples"] == snap.n_train
    assert result.metrics["train_loss"] > 0
