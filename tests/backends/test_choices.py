"""Reading choice log-probs from top alternatives (the openai backend's approximation)."""

from __future__ import annotations

import math

import pytest
from accord.backends.choices import choice_logprobs_from_top, token_starts_choice


def test_tokens_that_begin_a_choice_are_summed():
    top = [("A", math.log(0.3)), (" A", math.log(0.1)), ("B", math.log(0.2)), ("x", -1.0)]
    scores = choice_logprobs_from_top(["A", "B"], top)
    assert math.exp(scores["A"]) == pytest.approx(0.4)
    assert math.exp(scores["B"]) == pytest.approx(0.2)


def test_a_missing_choice_is_very_unlikely_but_never_above_the_listed_ones():
    assert choice_logprobs_from_top(["A", "B"], [("A", -0.1)])["B"] == -30.0
    assert choice_logprobs_from_top(["A", "B"], [("A", -0.1), ("z", -45.0)])["B"] == -45.0


def test_forbidden_tokens_are_ignored():
    scores = choice_logprobs_from_top(
        ["A", "B"], [("A", -0.2), ("B", -9999.0)], missing_logprob=-50
    )
    assert scores == {"A": -0.2, "B": -50}


def test_prefix_matching():
    assert token_starts_choice(" Ye", "Yes")
    assert not token_starts_choice(" ", "Yes")
    assert not token_starts_choice("Yess", "Yes")
