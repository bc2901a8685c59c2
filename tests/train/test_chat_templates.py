"""Conversational snapshots flow through every trainer with the model's own chat template, BOS
exactly once, on real tokenizers (SmolLM2: byte-level, template writes <|im_start|>; the
SentencePiece-style Llama: the tokenizer AND the template add <s>). Plain text stays plain for
models without a template. PPO prompts too long keep their end (the question)."""

import json

import datasets
import pytest
import torch

from accord.train.chat import completion_messages, has_chat_template, prompt_token_ids
from accord.train.data import SnapshotDataError, preference_columns, read_export, write_export
from accord.train.ppo.rollout import encode_prompts

QUESTION = "What is the capital of France?"
CHAT_ROWS = [
    {
        "prompt": [{"role": "user", "content": QUESTION}],
        "chosen": "Paris.",
        "rejected": "No idea.",
        "score": 0.9,
    }
]
PLAIN_ROWS = [{"prompt": QUESTION, "chosen": " Paris.", "rejected": " No idea.", "score": 0.9}]


def tokenizer_of(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(params=["smollm2", "sp_llama"])
def real_model(request):
    return request.getfixturevalue(f"{request.param}_dir")


def assert_bos_once(tokenizer, ids, *, rendered=None):
    """No doubled BOS: a sequence starts with at most one, and holds as many as the model's own
    rendering (template text without added special tokens, or text with the tokenizer's)."""
    ids = list(ids)
    bos = tokenizer.bos_token_id
    assert ids[:2] != [bos, bos], tokenizer.convert_ids_to_tokens(ids[:4])
    if rendered is not None:
        assert ids.count(bos) == list(rendered).count(bos)
    if tokenizer.bos_token == "<s>":  # the SentencePiece-style Llama: exactly one, in front
        assert ids[0] == bos and ids.count(bos) == 1


def own_rendering(tokenizer, prompt, completion=None, *, generation_prompt=False):
    if isinstance(prompt, list):
        messages = prompt + (completion_messages(completion) if completion is not None else [])
        text = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer(prompt + (completion or ""))["input_ids"]


@pytest.mark.parametrize("rows", [CHAT_ROWS, PLAIN_ROWS], ids=["chat", "plain"])
def test_sft_rm_dpo_inputs_have_bos_once(rows, real_model, tmp_path):
    """trl builds each trainer's inputs from the columns accord's trainers hand it."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer, SFTConfig, SFTTrainer

    from accord.train.dpo import _rows_for

    tokenizer = tokenizer_of(real_model)
    columns = preference_columns(rows)
    common = {
        "output_dir": str(tmp_path),
        "max_steps": 1,
        "report_to": "none",
        "bf16": False,
        "use_cpu": True,
    }
    model = AutoModelForCausalLM.from_pretrained(real_model)

    sft = SFTTrainer(
        model=model,
        args=SFTConfig(**common, completion_only_loss=True),
        processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_dict(
            {"prompt": columns["prompt"], "completion": columns["chosen"]}
        ),
    )
    ids = sft.train_dataset[0]["input_ids"]
    assert_bos_once(
        tokenizer, ids, rendered=own_rendering(tokenizer, rows[0]["prompt"], rows[0]["chosen"])
    )
    if isinstance(rows[0]["prompt"], list):  # the template's own markup is in the inputs
        rendered = tokenizer.apply_chat_template(rows[0]["prompt"], tokenize=False)
        assert tokenizer.decode(ids).startswith(rendered[:20])

    dpo = DPOTrainer(
        model=model,
        args=DPOConfig(**common),
        processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_dict(
            {k: v for k, v in _rows_for(rows, False).items() if k != "example_hash"}
        ),
    )
    example = dpo.train_dataset[0]
    assert_bos_once(
        tokenizer,
        example["prompt_ids"] + example["chosen_ids"],
        rendered=own_rendering(tokenizer, rows[0]["prompt"], generation_prompt=True),
    )

    rm = AutoModelForSequenceClassification.from_pretrained(real_model, num_labels=1)
    rm.config.pad_token_id = tokenizer.pad_token_id
    reward = RewardTrainer(
        model=rm,
        args=RewardConfig(**common),
        processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_dict(columns),
    )
    from accord.train.chat import reward_token_ids

    chosen_ids = reward.train_dataset[0]["chosen_ids"]
    assert chosen_ids == reward_token_ids(
        tokenizer, rows[0]["prompt"], rows[0]["chosen"]
    )  # the reward read's rendering
    assert_bos_once(
        tokenizer,
        chosen_ids,
        rendered=own_rendering(tokenizer, rows[0]["prompt"], rows[0]["chosen"]),
    )


@pytest.mark.parametrize("chat", [True, False], ids=["chat", "plain"])
def test_ppo_prompts_use_the_template_with_bos_once(chat, real_model):
    tokenizer = tokenizer_of(real_model)
    prompt = CHAT_ROWS[0]["prompt"] if chat else QUESTION
    ids, mask, truncated = encode_prompts(
        tokenizer, [prompt, prompt[:1] if chat else "Hi"], 256, "cpu"
    )
    first = ids[0][mask[0].bool()].tolist()
    assert truncated == 0
    assert first == own_rendering(tokenizer, prompt, generation_prompt=chat)
    assert_bos_once(tokenizer, first)
    if chat:
        assert tokenizer.decode(first).endswith(
            tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)[-12:]
        )


def test_ppo_keeps_the_end_of_an_over_long_prompt(sp_llama_dir):
    """The question at the end survives; the BOS stays in front; the cut is counted."""
    from transformers import AutoModelForCausalLM

    from accord.train.ppo.rollout import SamplingSettings, TransformersRollout

    tokenizer = tokenizer_of(sp_llama_dir)
    long_prompt = "Some background about the weather and the sea. " * 30 + QUESTION
    assert len(prompt_token_ids(tokenizer, long_prompt)) > 64
    policy = AutoModelForCausalLM.from_pretrained(sp_llama_dir)
    torch.manual_seed(0)
    batch = TransformersRollout(tokenizer, SamplingSettings(max_new_tokens=4), 64).generate(
        policy, [long_prompt, QUESTION]
    )
    assert batch.truncated_prompts == 1
    kept = batch.query_ids[0][batch.query_mask[0].bool()].tolist()
    assert (
        len(kept) == 64
        and kept[0] == tokenizer.bos_token_id
        and kept.count(tokenizer.bos_token_id) == 1
    )
    assert tokenizer.decode(kept, skip_special_tokens=True).endswith(QUESTION)


def test_plain_text_path_for_models_without_a_template(tiny_model_dir):
    tokenizer = tokenizer_of(tiny_model_dir)
    tokenizer.chat_template = None
    assert not has_chat_template(tokenizer)
    ids, mask, _ = encode_prompts(tokenizer, [QUESTION], 64, "cpu")
    assert ids[0][mask[0].bool()].tolist() == tokenizer(QUESTION)["input_ids"]
    with pytest.raises(ValueError, match="no chat template"):
        encode_prompts(tokenizer, [CHAT_ROWS[0]["prompt"]], 64, "cpu")


def test_conversational_export_rows_are_checked(tmp_path):
    folder = write_export(tmp_path / "ok", name="chat", train=CHAT_ROWS)
    snap = read_export(folder)
    assert snap.is_conversational
    assert preference_columns(snap.train_rows)["chosen"] == [
        [{"role": "assistant", "content": "Paris."}]
    ]
    bad = write_export(
        tmp_path / "bad", name="chat", train=[{**CHAT_ROWS[0], "prompt": [{"role": "user"}]}]
    )
    with pytest.raises(
        SnapshotDataError, match=r"train.jsonl:1: field 'prompt': message 0 needs string"
    ):
        read_export(bad)
    mixed = write_export(tmp_path / "mixed", name="chat", train=[CHAT_ROWS[0], PLAIN_ROWS[0]])
    with pytest.raises(SnapshotDataError, match=r"train.jsonl:2: field 'prompt' mixes"):
        read_export(mixed)
    assert json.loads((folder / "train.jsonl").read_text())["prompt"][0]["role"] == "user"


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["sft", "rm", "dpo", "ppo", "rloo", "grpo"])
def test_conversational_snapshot_trains_through_every_trainer(
    trainer, sp_llama_dir, sp_llama_reward_dir, tmp_path
):
    """One step of every trainer on a conversational snapshot with the SentencePiece Llama."""
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Question {i}: {QUESTION}"}],
            "chosen": "Paris.",
            "rejected": "No idea.",
            "score": 0.9,
            "example_hash": f"{i:064d}",
        }
        for i in range(4)
    ]
    folder = write_export(tmp_path / "snap", name="chat", train=rows, test=rows[:2])
    common = {
        "snapshot": str(folder),
        "model": str(sp_llama_dir),
        "db_url": f"sqlite:///{tmp_path / 'runs.db'}",
        "output_dir": str(tmp_path / trainer),
        "max_steps": 1,
        "save_model": False,
    }
    if trainer == "sft":
        from accord.train.sft import SFTTrainConfig, train_sft

        result = train_sft(SFTTrainConfig(**common))
    elif trainer == "rm":
        from accord.train.rm import RewardTrainConfig, train_rm

        result = train_rm(RewardTrainConfig(**{**common, "model": str(sp_llama_reward_dir)}))
        assert result.metrics["rm_heldout_n"] == 2 and result.metrics["rm_heldout_dropped"] == 0
    elif trainer == "dpo":
        from accord.train.dpo import DPOTrainConfig, train_dpo

        result = train_dpo(DPOTrainConfig(**common, cache_ref_logps=False))
    elif trainer == "ppo":
        from accord.train.ppo import PPOTrainConfig, train_ppo

        result = train_ppo(
            PPOTrainConfig(
                **common,
                reward_model=str(sp_llama_reward_dir),
                rollout_batch_size=2,
                mini_batch_size=2,
                ppo_epochs=1,
                max_new_tokens=4,
                eval_prompts=2,
            )
        )
        assert result.history[-1]["prompts/truncated"] == 0
    else:
        from accord.train.online import OnlineRLConfig, train_online

        result = train_online(
            OnlineRLConfig(
                **common,
                reward_model=str(sp_llama_reward_dir),
                num_generations=2,
                per_device_train_batch_size=2,
                max_completion_length=4,
            ),
            algorithm=trainer,
        )
        assert result.metrics["final_reward"] is not None
    assert result.metrics["train_seconds"] > 0
