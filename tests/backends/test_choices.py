"""Reading choice log-probs from top alternatives (the openai backend without a tokenizer)."""

from __future__ import annotations

import math

import pytest

from accord.backends.choices import (
    UnreadableChoices,
    choice_logprobs_from_top,
    token_starts_choice,
)


def test_tokens_that_begin_a_choice_are_summed():
    top = [("A", math.log(0.3)), (" A", math.log(0.1)), ("B", math.log(0.2)), ("x", -1.0)]
    reading = choice_logprobs_from_top(["A", "B"], top)
    assert math.exp(reading.scores["A"]) == pytest.approx(0.4)
    assert math.exp(reading.scores["B"]) == pytest.approx(0.2)
    assert reading.truncated == []


def test_a_choice_cut_off_by_top_k_gets_the_least_listed_logprob_as_bound():
    reading = choice_logprobs_from_top(["A", "B"], [("A", -0.1), ("z", -4.5), ("(", -2.0)])
    assert reading.scores == {"A": -0.1, "B": -4.5}
    assert reading.truncated == ["B"]


def test_no_readable_choice_is_an_error_never_a_coin_flip():
    with pytest.raises(UnreadableChoices, match=r"listed: '\(', 'The'"):
        choice_logprobs_from_top(["A", "B"], [("(", -0.2), ("The", -1.0)])


def test_forbidden_tokens_are_ignored():
    reading = choice_logprobs_from_top(["A", "B"], [("A", -0.2), ("B", -9999.0), ("C", -3.0)])
    assert reading.scores == {"A": -0.2, "B": -3.0} and reading.truncated == ["B"]


def test_prefix_matching():
    assert token_starts_choice(" Ye", "Yes")
    assert not token_starts_choice(" ", "Yes")
    assert not token_starts_choice("Yess", "Yes")
