"""DPO through trl on a tiny snapshot: loss goes down, soft labels, cached reference log-probs,
and accord's loss code agrees with trl's DPOTrainer on the same batch."""

import json

import pytest
import torch

from accord.store.db import open_store, session_scope
from accord.train.dpo import DPOTrainConfig, SoftLabelDPOTrainer, train_dpo
from accord.train.losses import preference_loss
from accord.train.runs import get_run, list_metrics

pytestmark = pytest.mark.slow


def dpo_config(snapshot_export, tiny_model_dir, train_db, tmp_path, **kw):
    base = dict(
        snapshot=str(snapshot_export),
        model=str(tiny_model_dir),
        db_url=train_db,
        output_dir=str(tmp_path / "out"),
        max_steps=8,
        learning_rate=5e-4,
        per_device_train_batch_size=4,
        save_model=False,
    )
    return DPOTrainConfig(**{**base, **kw})


def losses(result):
    return [h["loss"] for h in result.history if "loss" in h]


def test_dpo_soft_labels_loss_goes_down_and_run_recorded(
    snapshot_export, tiny_model_dir, train_db, tmp_path
):
    result = train_dpo(
        dpo_config(snapshot_export, tiny_model_dir, train_db, tmp_path, save_model=True)
    )
    curve = losses(result)
    assert len(curve) == 8 and curve[-1] < curve[0]
    assert result.metrics["soft_labels"] is True
    assert 0.0 <= result.metrics["heldout_reward_accuracy"] <= 1.0
    assert (result.output_dir / "config.json").is_file()
    with session_scope(open_store(train_db)) as s:
        run = get_run(s, run=result.run_id)
        assert run.kind == "dpo" and run.status == "completed"
        assert run.snapshot_hash and run.config["beta"] == 0.1
        assert len(list_metrics(s, run_id=run.id)) >= 8


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    from accord.settings import get_settings

    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_reference_logps_cached_across_runs_and_betas(
    snapshot_export, tiny_model_dir, train_db, tmp_path, monkeypatch, empty_home
):
    first = train_dpo(
        dpo_config(
            snapshot_export,
            tiny_model_dir,
            train_db,
            tmp_path,
            max_steps=2,
            beta=0.2,
            evaluate_test=False,
        )
    )
    assert first.metrics["ref_cache_hit"] is False

    # a second run must not compute reference log-probs nor load a reference model
    def no_reference_pass(*a, **k):
        raise AssertionError("reference log-probs recomputed despite the cache")

    monkeypatch.setattr("trl.DPOTrainer._precompute_ref_logps", no_reference_pass)
    second = train_dpo(
        dpo_config(
            snapshot_export,
            tiny_model_dir,
            train_db,
            tmp_path,
            max_steps=2,
            beta=0.5,
            evaluate_test=False,
        )
    )
    assert second.metrics["ref_cache_hit"] is True
    assert second.metrics["ref_model_loaded"] is False


def test_hard_labels_use_trl_loss_types(snapshot_export, tiny_model_dir, train_db, tmp_path):
    result = train_dpo(
        dpo_config(
            snapshot_export,
            tiny_model_dir,
            train_db,
            tmp_path,
            soft_labels=False,
            loss_type=["sigmoid", "sft"],
            evaluate_test=False,
        )
    )
    curve = losses(result)
    assert result.metrics["soft_labels"] is False and curve[-1] < curve[0]


@pytest.mark.parametrize(
    "loss_type",
    [
        "sigmoid",
        "hinge",
        "ipo",
        "robust",
        "nca_pair",
        "bco_pair",
        "sppo_hard",
        "apo_zero",
        "apo_down",
        "discopop",
        "sigmoid_norm",
        "exo_pair",
    ],
)
def test_accord_losses_match_trl_dpotrainer(loss_type, snapshot_export, tiny_model_dir, tmp_path):
    """trl's own _compute_loss on a real batch vs accord's preference_loss on the same log-probs."""
    trainer = parity_trainer(snapshot_export, tiny_model_dir, tmp_path)
    batch = parity_batch(trainer)
    trainer.loss_types, trainer.loss_weights = [loss_type], [1.0]
    trainer.label_smoothing = 0.1 if loss_type in ("robust", "exo_pair") else 0.0
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, batch)
        ours = accord_loss(trainer, batch, loss_type)
    torch.testing.assert_close(ours, trl_loss, rtol=1e-5, atol=1e-6)


_PARITY = {}


def parity_trainer(snapshot_export, tiny_model_dir, tmp_path):
    if "trainer" not in _PARITY:
        import datasets
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import DPOConfig

        from accord.train.data import read_export

        rows = read_export(snapshot_export).train_rows[:4]
        ds = datasets.Dataset.from_dict(
            {k: [r[k] for r in rows] for k in ("prompt", "chosen", "rejected")}
        )
        tok = AutoTokenizer.from_pretrained(tiny_model_dir)
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        ref = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        with torch.no_grad():  # a reference that differs from the policy, so log-ratios are not 0
            for p in ref.parameters():
                p.add_(0.02 * torch.randn_like(p))
        args = DPOConfig(
            output_dir=str(tmp_path),
            report_to="none",
            bf16=False,
            save_strategy="no",
            dataloader_pin_memory=False,
            per_device_train_batch_size=4,
            beta=0.3,
        )
        _PARITY["trainer"] = SoftLabelDPOTrainer(
            model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok
        )
    return _PARITY["trainer"]


def parity_batch(trainer):
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.eval()
    return batch


def accord_loss(trainer, batch, loss_type):
    def seq_logps(model):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        logits = out.logits[:, :-1].float()
        tokens = batch["input_ids"][:, 1:]
        per_tok = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return (per_tok * batch["completion_mask"][:, 1:]).sum(1)

    logps, ref_logps = seq_logps(trainer.model), seq_logps(trainer.ref_model)
    chosen, rejected = (logps - ref_logps).chunk(2)
    cl, rl = batch["completion_mask"].sum(1).float().chunk(2)
    return preference_loss(
        chosen,
        rejected,
        beta=trainer.beta,
        loss_type=loss_type,
        label_smoothing=trainer.label_smoothing,
        chosen_lengths=cl,
        rejected_lengths=rl,
        discopop_tau=trainer.args.discopop_tau,
    ).mean()


def test_separate_reference_model_is_freed_after_its_pass(
    snapshot_export, tiny_model_dir, train_db, tmp_path, empty_home
):
    import shutil

    ref_dir = shutil.copytree(tiny_model_dir, tmp_path / "reference")
    result = train_dpo(
        dpo_config(
            snapshot_export,
            tiny_model_dir,
            train_db,
            tmp_path,
            max_steps=1,
            ref_model=str(ref_dir),
            evaluate_test=False,
        )
    )
    assert result.metrics["ref_cache_hit"] is False
    assert result.metrics["ref_model_loaded"] is False


# --- the reference log-prob cache key -------------------------------------------------------


def test_model_fingerprint_hashes_whole_weight_files_once(tiny_model_dir, tmp_path):
    import os
    import shutil

    from accord.train.ref_cache import file_sha256, model_fingerprint

    index = tmp_path / "index"
    copy = shutil.copytree(tiny_model_dir, tmp_path / "copy")
    weights = copy / "model.safetensors"
    assert (
        weights.stat().st_size > 2 * 2**20
    )  # a byte in the middle is outside the first and last MiB
    before = model_fingerprint(copy, index_dir=index)
    assert (
        model_fingerprint(copy, index_dir=index)
        == before
        == model_fingerprint(tiny_model_dir, index_dir=index)
    )
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(copy, index_dir=index) != before
    # the digest is remembered by path + size + mtime: an unchanged file is not read again
    stat = weights.stat()
    remembered = file_sha256(weights, index_dir=index)
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(weights, index_dir=index) == remembered
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert model_fingerprint(copy, index_dir=index) == before


def test_model_fingerprint_records_the_hub_revision(tiny_model_dir, tmp_path):
    import shutil

    from accord.train.ref_cache import model_fingerprint

    hub = tmp_path / "hub" / "models--org--tiny" / "snapshots"
    first = shutil.copytree(tiny_model_dir, hub / ("a" * 40))
    second = shutil.copytree(tiny_model_dir, hub / ("b" * 40))
    index = tmp_path / "index"
    assert model_fingerprint(first, index_dir=index) != model_fingerprint(second, index_dir=index)
    assert model_fingerprint("org/tiny", revision="main") != model_fingerprint(
        "org/tiny", revision="v2"
    )


def test_tokenizer_fingerprint_sees_template_tokens_and_vocab(tiny_model_dir, sp_llama_dir):
    from transformers import AutoTokenizer

    from accord.train.ref_cache import tokenizer_fingerprint

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = tokenizer_fingerprint(tok)
    assert tokenizer_fingerprint(AutoTokenizer.from_pretrained(tiny_model_dir)) == base
    assert tokenizer_fingerprint(AutoTokenizer.from_pretrained(sp_llama_dir)) != base
    tok.chat_template = tok.chat_template + "{# changed #}"
    assert tokenizer_fingerprint(tok) != base
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.add_special_tokens({"additional_special_tokens": ["<|extra|>"]})
    assert tokenizer_fingerprint(tok) != base


def test_reference_cache_hits_after_trl_filtering_and_misses_on_any_change(
    snapshot_export, tiny_model_dir, train_db, tmp_path, monkeypatch, empty_home
):
    """Run 1 computes; run 2 (identical) hits although trl drops pairs whose prompt fills
    max_length; a changed chat template (in the policy's tokenizer) or max length misses."""
    import shutil

    import trl
    from transformers import AutoTokenizer

    from accord.train.data import read_export

    reference_forwards = []
    original = trl.DPOTrainer.compute_ref_log_probs

    def counted(self, *args, **kwargs):
        reference_forwards.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(trl.DPOTrainer, "compute_ref_log_probs", counted)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt_lengths = sorted(
        {len(tok(r["prompt"])["input_ids"]) for r in read_export(snapshot_export).train_rows}
    )
    max_length = max(8, prompt_lengths[-1])  # the longest prompts fill it: trl drops their pairs
    assert prompt_lengths[0] < max_length

    def run(**kw):
        reference_forwards.clear()
        result = train_dpo(
            dpo_config(
                snapshot_export,
                tiny_model_dir,
                train_db,
                tmp_path,
                max_steps=1,
                evaluate_test=False,
                **{"max_length": max_length, **kw},
            )
        )
        return result, len(reference_forwards)

    first, calls = run()
    assert first.metrics["ref_cache_hit"] is False and calls > 0
    stored = [
        json.loads(p.read_text()) for p in (empty_home / "cache" / "reflogps").glob("*-train.json")
    ]
    assert len(stored) == 1 and stored[0]["dropped"]  # trl really filtered some pairs out
    second, calls = run()
    assert (
        second.metrics["ref_cache_hit"] is True
        and second.metrics["ref_cache_hits"] == 1
        and calls == 0
    )

    templated = shutil.copytree(tiny_model_dir, tmp_path / "templated")
    template = templated / "chat_template.jinja"
    template.write_text(template.read_text() + "{# another template #}")
    third, calls = run(model=str(templated), ref_model=str(tiny_model_dir))
    assert third.metrics["ref_cache_hit"] is False and calls > 0
    fourth, calls = run(max_length=max_length + 8)
    assert fourth.metrics["ref_cache_hit"] is False and calls > 0


def test_hinge_refuses_soft_labelled_snapshots(snapshot_export, tiny_model_dir, train_db, tmp_path):
    with pytest.raises(ValueError, match=r"\['hinge'\] ignore soft labels"):
        train_dpo(
            dpo_config(
                snapshot_export,
                tiny_model_dir,
                train_db,
                tmp_path,
                loss_type=["hinge"],
                max_steps=1,
            )
        )
    result = train_dpo(
        dpo_config(
            snapshot_export,
            tiny_model_dir,
            train_db,
            tmp_path,
            loss_type=["hinge"],
            soft_labels=False,
            max_steps=1,
            evaluate_test=False,
        )
    )
    assert result.metrics["soft_labels"] is False
