"""Snapshot policies and export formats are one registry each; a new one is usable everywhere."""

from __future__ import annotations

import json
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from accord.cli.main import app as main_app
from accord.cli.snapshot import app as snapshot_app
from accord.jobs.registry import get_step
from accord.service.job_kinds import JobConfigError, get_kind, register_kind, validate_config
from accord.snapshots import create_snapshot, export_snapshot, verify_export
from accord.snapshots.export_formats import FORMATS, register_export_format
from accord.snapshots.policies import POLICIES, Policy, register_policy
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord

runner = CliRunner()


def test_cli_help_and_validation_read_the_registries():
    commands = typer.main.get_command(snapshot_app).commands
    assert {p.name: p.help for p in commands["create"].params}["policy"] == " | ".join(POLICIES)
    export = typer.main.get_command(main_app).commands["export"]
    assert {p.name: p.help for p in export.params}["fmt"] == " | ".join(FORMATS)
    assert runner.invoke(snapshot_app, ["create", "--help"]).exit_code == 0
    with pytest.raises(JobConfigError, match=", ".join(POLICIES)):
        validate_config("snapshot", {"name": "s", "policy": "nope"})
    with pytest.raises(ValueError, match="trl, hf, parquet"):
        get_step("export").config_model(kind="export", format="csv")


@pytest.fixture
def ai_over_human():
    """A policy registered once: the AI label wins where there is one."""

    def keep(kind, pair_id):
        import numpy as np

        is_ai = kind == "ai"
        return is_ai | ~np.isin(pair_id, pair_id[is_ai])

    policy = register_policy(
        Policy("ai-over-human", "an AI label wins over a human one", keep=keep)
    )
    yield policy
    POLICIES.pop(policy.name)


def test_a_registered_policy_builds_snapshots_through_every_face(engine, ai_over_human):
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(
            [
                PreferenceRecord(
                    prompt="p0",
                    chosen="c0",
                    rejected="r0",
                    judgments=[
                        JudgmentSpec(kind="human", annotator="h1"),
                        JudgmentSpec(kind="ai", judge="j", prob_chosen=0.1),
                    ],
                ),
                PreferenceRecord(
                    prompt="p1",
                    chosen="c1",
                    rejected="r1",
                    judgments=[JudgmentSpec(kind="human", annotator="h1")],
                ),
            ]
        )
    snap = create_snapshot(engine, name="ai-first", policy="ai-over-human", test_fraction=0.0)
    other = create_snapshot(engine, name="human-first", policy="human-over-ai", test_fraction=0.0)
    assert (snap.n_train, snap.manifest["policy"]) == (2, "ai-over-human")
    assert snap.content_hash != other.content_hash  # the AI flips pair p0
    stored = validate_config("snapshot", {"name": "s2", "policy": "ai-over-human"})
    assert stored["policy"] == "ai-over-human"
    assert (
        get_step("snapshot").config_model(kind="snapshot", policy="ai-over-human").policy
        == "ai-over-human"
    )
    with pytest.raises(ValueError, match="already registered"):
        register_policy(Policy("ai-over-human", "another"))


def test_a_registered_export_format_writes_and_verifies(engine, tmp_path, monkeypatch):
    (tmp_path / "tsv_export.py").write_text(
        textwrap.dedent("""
        from accord.snapshots.export import SPLITS, file_sha256
        from accord.snapshots.examples import iter_examples

        def write_tsv(engine, snapshot_id, out, conversational):
            files = {}
            for split in SPLITS:
                path = out / f"{split}.tsv"
                rows = list(iter_examples(engine, snapshot_id, split=split))
                lines = [f"{r['prompt']}\\t{r['chosen']}\\t{r['rejected']}\\n" for r in rows]
                path.write_text("".join(lines))
                files[path.name] = {"rows": len(rows), "sha256": file_sha256(path)}
            return files
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register_export_format(
        "tsv", "tsv_export:write_tsv", help="prompt, chosen, rejected separated by tabs"
    )
    try:
        with session_scope(engine) as s:
            PreferenceIngestor(s).ingest(
                [
                    PreferenceRecord(
                        prompt="q",
                        chosen="a",
                        rejected="b",
                        judgments=[JudgmentSpec(kind="human", annotator="h1")],
                    )
                ]
            )
        create_snapshot(engine, name="t", policy="majority", test_fraction=0.0)
        manifest = export_snapshot(engine, name="t", fmt="tsv", out_dir=tmp_path / "out")
        assert manifest["format"] == "tsv" and manifest["files"]["train.tsv"]["rows"] == 1
        assert (tmp_path / "out" / "train.tsv").read_text() == "q\ta\tb\n"
        assert verify_export(tmp_path / "out").ok
        assert json.loads((tmp_path / "out" / "manifest.json").read_text())["format"] == "tsv"
        assert get_step("export").config_model(kind="export", format="tsv").format == "tsv"
    finally:
        FORMATS.pop("tsv")


def test_job_kinds_register_once_and_come_from_plug_ins():
    def validate(config):
        return config

    register_kind("echo-kind", validate=validate, handler="json:dumps")
    register_kind("echo-kind", validate=validate, handler="json:dumps")  # a module imported twice
    with pytest.raises(ValueError, match="already registered"):
        register_kind("echo-kind", validate=validate, handler="json:loads")
    assert get_kind("echo-kind").handler == "json:dumps"
    with pytest.raises(JobConfigError, match="unknown job kind 'nope'; known: .*argilla_pull"):
        get_kind("nope")
