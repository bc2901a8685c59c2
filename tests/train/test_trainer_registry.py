"""One registry of trainers; the CLI, recipe steps and API train jobs generated from the configs."""

import dataclasses
import json
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from accord.cli.train import app as train_app
from accord.cli.train import make_command
from accord.jobs import registry as step_registry
from accord.jobs.registry import get_step
from accord.service.job_kinds import JobConfigError, validate_config
from accord.train import trainers as trainer_registry
from accord.train.recipe_steps import MANAGED
from accord.train.trainers import Trainer, config_options, get_trainer, register_trainer, trainers

runner = CliRunner()
NAMES = ["dpo", "grpo", "ppo", "rloo", "rm", "sft"]


def _parse(name: str, *args: str) -> dict:
    """The values ``accord train <name> ARGS`` hands its command, parsed by click itself."""
    command = typer.main.get_command(train_app).commands[name]
    return command.make_context(name, ["--snapshot", "s", *args]).params


def test_every_trainer_is_a_command_a_recipe_step_and_an_api_trainer():
    assert sorted(trainers()) == NAMES
    assert sorted(typer.main.get_command(train_app).commands) == NAMES
    for name in NAMES:
        step = get_step(f"train_{name}").config_model
        fields = {o.name for o in config_options(get_trainer(name).config_class())}
        assert fields - set(MANAGED) <= set(step.model_fields), name
    with pytest.raises(JobConfigError, match="dpo, grpo, ppo, rloo, rm, sft"):
        validate_config("train", {"trainer": "nope", "snapshot": "s"})
    stored = validate_config("train", {"trainer": "grpo", "snapshot": "s", "num_generations": 2})
    assert stored["trainer"] == "grpo" and stored["num_generations"] == 2


@pytest.mark.parametrize("name", NAMES)
def test_each_config_field_is_an_option_with_its_help_and_default(name):
    trainer = get_trainer(name)
    params = {p.name: p for p in typer.main.get_command(train_app).commands[name].params}
    for option in config_options(trainer.config_class()):
        if option.name == "db_url":
            assert "--db" in params["db"].opts
            continue
        param = params[option.name]
        assert f"--{option.name.replace('_', '-')}" in param.opts + param.secondary_opts
        assert option.help in param.help
        if option.name != "snapshot" and option.item_type is None:
            assert param.default == trainer.cli_defaults.get(option.name, option.default)


def test_option_names_from_before_the_generation_still_work():
    assert _parse("ppo", "--batch-size", "16", "--kl-coef", "0.2")["rollout_batch_size"] == 16
    assert _parse("ppo", "--beta", "0.3")["kl_coef"] == 0.3
    ppo = _parse("ppo", "--judge-principles", "a,b")
    assert ppo["judge_principles"] == "a,b" and ppo["per_device_train_batch_size"] == 4
    assert _parse("sft", "--lr", "0.01", "--batch-size", "2", "-o", "out")["learning_rate"] == 0.01
    assert _parse("rm", "--no-margin")["margin_from_score"] is False
    assert _parse("rm", "--no-margin-from-score")["margin_from_score"] is False
    dpo = _parse("dpo", "--hard-labels", "--no-ref-cache", "--loss-type", "sigmoid,sft")
    assert (dpo["soft_labels"], dpo["cache_ref_logps"], dpo["loss_type"]) == (
        False,
        False,
        "sigmoid,sft",
    )
    grpo = _parse("grpo", "--vllm")
    assert grpo["use_vllm"] is True and (grpo["max_steps"], grpo["num_generations"]) == (10, 2)
    # options the hand-written commands lacked now exist, from the config
    assert _parse("ppo", "--kl-estimator", "k3")["kl_estimator"] == "k3"
    assert _parse("dpo", "--loss-weights", "1,0.5")["loss_weights"] == "1,0.5"


def test_bad_option_values_name_the_field(tmp_path):
    bad = runner.invoke(train_app, ["grpo", "--snapshot", str(tmp_path), "--num-generations", "3"])
    assert bad.exit_code == 2 and "num_generations" in bad.output
    bad = runner.invoke(train_app, ["dpo", "--snapshot", str(tmp_path), "--loss-weights", "1,x"])
    assert bad.exit_code == 2 and "--loss-weights" in bad.output and "float" in bad.output


def test_recipe_steps_take_config_fields_as_fields_or_options():
    ppo = get_step("train_ppo").config_model
    by_field = ppo(kind="train_ppo", reward_model="rm", gamma=0.9, ppo_epochs=2)
    by_option = ppo(kind="train_ppo", reward_model="rm", options={"gamma": 0.9, "ppo_epochs": 2})
    kwargs = {"snapshot": "s", "model": "m", "run_name": "r"}
    assert by_field.build_kwargs(**kwargs) == by_option.build_kwargs(**kwargs)
    assert by_field.build_kwargs(**kwargs)["gamma"] == 0.9
    with pytest.raises(ValueError, match="gamma must be given as step fields"):
        ppo(kind="train_ppo", reward_model="rm", gamma=0.9, options={"gamma": 0.8})
    with pytest.raises(ValueError, match="unknown KL estimator .k2."):
        ppo(kind="train_ppo", reward_model="rm", kl_estimator="k2")
    grpo = get_step("train_grpo").config_model
    with pytest.raises(ValueError, match="multiple of num_generations"):
        grpo(kind="train_grpo", num_generations=3)
    assert grpo(kind="train_grpo", num_generations=2).trainer_spec().train_kwargs == {
        "algorithm": "grpo"
    }


@pytest.fixture
def extra_trainer(tmp_path, monkeypatch):
    """A trainer registered once from a plug-in module, removed again afterwards."""
    (tmp_path / "extra_trainer.py").write_text(
        textwrap.dedent("""
        from dataclasses import dataclass, field
        from accord.train.sft_config import SFTTrainConfig

        @dataclass
        class ExtraConfig(SFTTrainConfig):
            warmup_ratio: float = field(default=0.0, metadata={"help": "Share of warm-up steps."})

            def __post_init__(self):
                super().__post_init__()
                if not 0 <= self.warmup_ratio < 1:
                    raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

        def train_extra(config, *, engine=None, snapshot=None):
            raise LookupError(f"extra trainer got warmup_ratio={config.warmup_ratio}")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    trainer = register_trainer(
        Trainer(
            "extra",
            "extra_trainer:ExtraConfig",
            "extra_trainer:train_extra",
            "A trainer from a plug-in.",
        )
    )
    yield trainer
    trainer_registry._TRAINERS.pop("extra")
    step_registry._REGISTRY.pop("train_extra")


def test_a_trainer_and_a_field_registered_once_appear_everywhere(extra_trainer, tmp_path):
    app = typer.Typer()
    app.command("extra")(make_command(extra_trainer))
    app.command("other")(lambda: None)
    result = runner.invoke(app, ["extra", "--snapshot", "s", "--warmup-ratio", "0.25"])
    assert result.exit_code == 1 and "warmup_ratio=0.25" in result.output
    bad = runner.invoke(app, ["extra", "--snapshot", "s", "--warmup-ratio", "2"])
    assert bad.exit_code == 2 and "warmup_ratio must be in [0, 1)" in bad.output
    step = get_step("train_extra").config_model(kind="train_extra", warmup_ratio=0.5)
    assert step.build_kwargs(snapshot="s", model="m", run_name="r")["warmup_ratio"] == 0.5
    with pytest.raises(JobConfigError, match="warmup_ratio"):
        validate_config("train", {"trainer": "extra", "snapshot": "s", "warmup_ratio": 3})
    with pytest.raises(ValueError, match="already registered"):
        register_trainer(dataclasses.replace(extra_trainer, train="extra_trainer:other"))


@pytest.mark.slow
def test_grpo_from_the_cli_records_the_generated_options(
    snapshot_export, tiny_model_dir, tiny_reward_model_dir, train_db, tmp_path
):
    result = runner.invoke(
        train_app,
        [
            "grpo",
            "--snapshot",
            str(snapshot_export),
            "--model",
            str(tiny_model_dir),
            "--reward-model",
            str(tiny_reward_model_dir),
            "--max-steps",
            "1",
            "--batch-size",
            "4",
            "--max-completion-length",
            "4",
            "--temperature",
            "0.7",
            "--no-save-model",
            "--db",
            train_db,
            "--output-dir",
            str(tmp_path / "g"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.output[result.output.index("{") :])["run_id"]
    from sqlmodel import Session

    from accord.store.db import open_store
    from accord.train.runs import get_run

    with Session(open_store(train_db)) as session:
        run = get_run(session, run=run_id)
    assert run.kind == "grpo"
    assert (run.config["temperature"], run.config["num_generations"], run.config["max_steps"]) == (
        0.7,
        2,
        1,
    )
