"""The tiny offline models: deterministic, cached by recipe hash, race-safe, loadable as usual."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest
import torch

from accord.models import (
    TINY_MODEL_ID,
    TINY_REWARD_MODEL_ID,
    ensure_tiny_model,
    load_causal_lm,
    load_reward_model,
    load_tokenizer,
    resolve_model_path,
)
from accord.models.tiny import MARKER_FILE, recipe


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_causal_model_shape_tokenizer_and_chat_template(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_causal_lm(tiny_model_dir)
    assert 1500 <= len(tokenizer) <= 2048
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.hidden_size // model.config.num_attention_heads == 32
    assert model.config.tie_word_embeddings and model.config.max_position_embeddings == 1024
    assert {tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token} == {
        "<|pad|>",
        "<|im_end|>",
        "<|bos|>",
    }
    chat = [{"role": "user", "content": "Hello there"}]
    closed = tokenizer.apply_chat_template(chat, tokenize=False)
    opened = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert closed == "<|bos|><|im_start|>user\nHello there<|im_end|>\n"
    assert opened == closed + "<|im_start|>assistant\n"
    ids = tokenizer("Can you explain photosynthesis?", add_special_tokens=False)["input_ids"]
    assert len(ids) <= 6  # the corpus taught it whole words
    assert tokenizer.decode(ids) == "Can you explain photosynthesis?"


def test_every_tokenizer_class_encodes_alike(tiny_model_dir):
    # AutoTokenizer picks the Qwen2 class for this folder; the generic class reads tokenizer.json.
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    auto = AutoTokenizer.from_pretrained(tiny_model_dir)
    generic = PreTrainedTokenizerFast.from_pretrained(tiny_model_dir)
    assert len(auto) == len(generic)
    for text in [
        "Water boils at 100 degrees.",
        "Ünïcödé — 😀\n\n  x",
        "<|im_start|>user\nhi<|im_end|>",
    ]:
        assert auto(text)["input_ids"] == generic(text)["input_ids"]
        assert auto.decode(auto(text)["input_ids"]) == text


def test_reward_model_scores_padded_batches(tiny_reward_model_dir):
    tokenizer = load_tokenizer(tiny_reward_model_dir)
    model = load_reward_model(tiny_reward_model_dir)
    assert model.config.num_labels == 1 and model.config.pad_token_id == tokenizer.pad_token_id
    texts = ["A short answer.", "A much longer answer that needs several more tokens to say."]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        together = model(**batch).logits
        alone = model(**tokenizer(texts[:1], return_tensors="pt")).logits
    assert together.shape == (2, 1)
    assert together[0].item() == pytest.approx(alone[0].item(), abs=1e-5)


def test_ids_resolve_to_cached_folders(tiny_models_cache, tiny_model_dir, tiny_reward_model_dir):
    assert resolve_model_path(TINY_MODEL_ID, cache_dir=tiny_models_cache) == str(tiny_model_dir)
    assert resolve_model_path(TINY_REWARD_MODEL_ID, cache_dir=tiny_models_cache) == str(
        tiny_reward_model_dir
    )
    assert resolve_model_path("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model_path("/models/mine") == "/models/mine"
    assert tiny_model_dir.name.startswith("tiny-causal-")
    assert ensure_tiny_model("causal", cache_dir=tiny_models_cache) == tiny_model_dir


def test_unknown_kind_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown tiny model kind 'policy'"):
        ensure_tiny_model("policy", cache_dir=tmp_path)
    assert recipe("causal") != recipe("reward")


@pytest.mark.slow
def test_concurrent_builds_agree_and_leave_one_folder(tmp_path, tiny_model_dir):
    script = textwrap.dedent(
        f"""
        from accord.models.tiny import ensure_tiny_model
        print(ensure_tiny_model("causal", cache_dir={str(tmp_path)!r}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1]
    assert [p.name for p in tmp_path.iterdir()] == [tiny_model_dir.name]
    built = tmp_path / tiny_model_dir.name
    assert (built / MARKER_FILE).is_file()
    # Same recipe, same bytes: weights and tokenizer are reproducible from code.
    for name in ("model.safetensors", "tokenizer.json"):
        assert _sha(built / name) == _sha(tiny_model_dir / name)
