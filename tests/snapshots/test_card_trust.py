"""The dataset card lays out the manifest's calibration, escalation and Dawid–Skene records as
figures (real store, real export, read back with huggingface_hub)."""

from __future__ import annotations

from huggingface_hub import DatasetCard

from accord.audit.calibrate import calibrate_judge
from accord.snapshots import PolicyParams, create_snapshot, export_snapshot

from .trust_store import JUDGE, build_trust_store


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_card_lays_out_calibration_and_escalation(sqlite_url, tmp_path):
    store = build_trust_store(sqlite_url, n_pairs=180, n_human=120, k=1.0)
    engine = store.engine
    cal = calibrate_judge(engine, judge=JUDGE, method="temperature", n_resamples=50).calibration
    snap = create_snapshot(
        engine,
        name="card-esc",
        policy="escalate",
        test_fraction=0.2,
        params=PolicyParams(target=0.75, delta=0.1, calibration=cal.id),
    )
    export_snapshot(engine, name=snap.name, fmt="trl", out_dir=tmp_path / "out")
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    text = card.text
    calibration = _section(text, "Calibration")
    assert f"calibration {cal.id} (version 1, temperature, T = " in calibration
    assert "| ECE |" in calibration and "| Brier score |" in calibration
    ece = snap.manifest["calibration"]["ece"]
    assert f"{ece['after']['value']:.3f} [{ece['after']['ci'][0]:.3f}" in calibration
    escalation = _section(text, "Escalation")
    judge = snap.manifest["escalation"]["judges"][0]
    assert "≥ 75% with probability ≥ 90%" in escalation
    assert f"| `{JUDGE}` | {judge['threshold']:.3f} | 120 |" in escalation
    esc = snap.manifest["escalation"]
    assert f"{esc['ai_only_pairs_kept']} of 60 pairs without a human label" in escalation
    for section in (calibration, escalation):
        assert "{" not in section  # figures, not raw dicts


def test_card_lays_out_dawid_skene_and_says_what_is_absent(sqlite_url, tmp_path):
    store = build_trust_store(
        sqlite_url, n_pairs=40, n_human=40, annotators={"ann": 0.9, "bea": 0.8, "cat": 0.6}
    )
    snap = create_snapshot(store.engine, name="card-ds", policy="dawid-skene", test_fraction=0.2)
    export_snapshot(store.engine, name=snap.name, fmt="hf", out_dir=tmp_path / "out")
    text = DatasetCard.load(tmp_path / "out" / "README.md").text
    model = _section(text, "Annotator model")
    assert "Dawid–Skene posteriors over 40 pairs" in model
    for row in snap.manifest["dawid_skene"]["annotators"]:
        assert f"| {row['annotator']} | {row['accuracy']:.3f} | 40 |" in model
    assert "No calibration" in _section(text, "Calibration")
    assert "No escalation" in _section(text, "Escalation")
