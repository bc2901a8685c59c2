"""`accord train` and `accord runs` (the sub-apps, invoked as the CLI would)."""

import json

import pytest
from typer.testing import CliRunner

from accord.cli.runs import app as runs_app
from accord.cli.train import app as train_app
from accord.train.instruments import reward_hacking_warnings, win_rate

runner = CliRunner()


@pytest.mark.slow
def test_train_dpo_then_runs_show_html(snapshot_export, tiny_model_dir, train_db, tmp_path):
    result = runner.invoke(
        train_app,
        [
            "dpo",
            "--snapshot",
            str(snapshot_export),
            "--model",
            str(tiny_model_dir),
            "--max-steps",
            "3",
            "--beta",
            "0.2",
            "--loss-type",
            "sigmoid",
            "--db",
            train_db,
            "--output-dir",
            str(tmp_path / "dpo"),
            "--run-name",
            "cli-dpo",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{") :])
    run_id = out["run_id"]
    listed = runner.invoke(runs_app, ["list", "--db", train_db, "--json"])
    assert listed.exit_code == 0 and any(r["id"] == run_id for r in json.loads(listed.output))
    report = tmp_path / "run.html"
    shown = runner.invoke(
        runs_app, ["show", "cli-dpo", "--db", train_db, "--html", str(report), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert summary["kind"] == "dpo" and len(summary["steps"]) == 3
    text = report.read_text()
    assert "data:image/png;base64," in text and "loss" in text


def test_cli_errors_are_clear(train_db, tmp_path):
    missing = runner.invoke(runs_app, ["show", "nope", "--db", train_db])
    assert missing.exit_code == 1 and "no training run" in missing.output
    bad = runner.invoke(
        train_app, ["dpo", "--snapshot", str(tmp_path), "--beta", "-1", "--db", train_db]
    )
    assert bad.exit_code == 2 and "beta" in bad.output
    no_snapshot = runner.invoke(train_app, ["sft", "--snapshot", str(tmp_path), "--db", train_db])
    assert no_snapshot.exit_code == 1 and "manifest.json" in no_snapshot.output


def test_reward_hacking_warnings():
    calm = [{"reward/mean": 0.1 * i, "kl/measured": 1.0, "response/length": 20} for i in range(8)]
    assert reward_hacking_warnings(calm) == []
    exploding = [
        {"reward/mean": 0.1 * i, "kl/measured": 0.5 * 2**i, "response/length": 20} for i in range(8)
    ]
    assert any("KL" in w for w in reward_hacking_warnings(exploding))
    longer = [
        {"reward/mean": 0.1 * i, "kl/measured": 1.0, "response/length": 10 + 10 * i}
        for i in range(8)
    ]
    assert any("length" in w for w in reward_hacking_warnings(longer))
    falling = [
        {"reward/mean": -0.1 * i, "kl/measured": 2.0**i, "response/length": 20} for i in range(8)
    ]
    assert reward_hacking_warnings(falling) == []
    import torch

    assert win_rate(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(
        0.5
    )
