"""pipelines/hh-agreement.yaml end to end at tiny scale (mechanics: the tiny offline judge) on an
HH-RLHF-format file written here, with one row whose last reply is empty, as real HH-RLHF has:
the row is skipped and counted, every valid pair is judged in both orders under each
principle, and the audit compares the judge with the human labels."""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import tiny_variant

pytestmark = pytest.mark.slow

ROWS = [
    (
        "How do I boil an egg?",
        "Simmer it for nine minutes, then cool it in cold water.",
        "Eggs are oval.",
    ),
    ("What is the capital of Spain?", "Madrid.", "Lisbon."),
    ("Can I mix bleach and ammonia?", "No: it releases toxic gas.", ""),  # empty last reply
    ("How many legs does a spider have?", "Eight.", "Six."),
    ("Say hello in French.", "Bonjour.", "Hola."),
]


def test_hh_agreement_recipe_measures_the_judge_against_human_labels(recipe_runner, tmp_path):
    hh = tmp_path / "hh.jsonl"
    hh.write_text(
        "".join(
            json.dumps(
                {
                    "chosen": f"\n\nHuman: {q}\n\nAssistant: {c}",
                    "rejected": f"\n\nHuman: {q}\n\nAssistant: {r}",
                }
            )
            + "\n"
            for q, c, r in ROWS
        )
    )
    recipe = tiny_variant("hh-agreement", tmp_path)
    data = yaml.safe_load(recipe.read_text())
    data["steps"][0]["file"] = str(hh)
    recipe.write_text(yaml.safe_dump(data, sort_keys=False))

    done = recipe_runner.run(recipe, "--json")
    assert done.returncode == 0, done.output[-5000:]
    steps = json.loads(done.stdout)["steps"]
    assert steps["hh"]["pairs"] == 4 and steps["hh"]["invalid"] == 1
    assert steps["judge"]["judgments"] == 4 * (2 * 2 + 1)  # 2 principles × 2 orders + the ensemble
    summary = json.loads(
        (recipe_runner.home / "reports" / "hh-agreement" / "summary.json").read_text()
    )
    [human_ai] = summary["audits"][0]["human_ai_per_pair"]  # the judge's final label per pair
    assert human_ai["n"] == 4 and human_ai["agreement"]["value"] is not None
    assert summary["audits"][0]["position_consistency"][0]["n_pairs"] == 4 * 2  # pair × principle
    assert any("agrees with humans on" in line for line in summary["in_plain_words"])
