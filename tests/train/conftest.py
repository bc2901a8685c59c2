"""Fixtures of the training tests: a tiny snapshot export and the tiny offline models."""

from __future__ import annotations

import random

import pytest

from tests.fixtures.models import (  # noqa: F401
    sp_llama_dir,
    tiny_model_dir,
    tiny_models_cache,
    tiny_reward_model_dir,
)

TOPICS = [
    "photosynthesis",
    "the water cycle",
    "compound interest",
    "black holes",
    "volcanoes",
    "sleep hygiene",
    "recycling plastic",
    "public speaking",
    "vaccines",
    "electric cars",
    "meditation",
    "the moon landing",
]


def preference_rows(n: int, seed: int) -> list[dict]:
    """Helpful, specific answers preferred over curt ones, with judged probabilities."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        prompt = f"Can you explain {topic} in simple terms?"
        chosen = f"Sure. Here is a clear explanation of {topic}, step by step, with one example."
        rejected = "No."
        rows.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "score": round(rng.uniform(0.6, 1.0), 3),
                "label_source": "ai",
                "pair_id": i + 1,
                "example_hash": f"{seed:02d}{i:062d}",
            }
        )
    return rows


@pytest.fixture(scope="session")
def snapshot_export(tmp_path_factory):
    """A `--format trl` export folder: 24 train and 8 test examples with soft labels."""
    from accord.train.data import write_export

    folder = tmp_path_factory.mktemp("snapshot-export")
    return write_export(
        folder, name="tiny-prefs", train=preference_rows(24, 1), test=preference_rows(8, 2)
    )


@pytest.fixture
def train_db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"
