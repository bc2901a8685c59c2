"""Dawid–Skene matches crowd-kit's DawidSkene to 1e-6 and recovers annotators of known quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accord.audit.dawid_skene import dawid_skene

crowdkit = pytest.importorskip("crowdkit.aggregation")


def _simulate(n_items, accuracies, *, n_classes=2, answers_per_item=3, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    rows = []
    for i in range(n_items):
        for w in rng.choice(len(accuracies), size=answers_per_item, replace=False):
            correct = rng.uniform() < accuracies[w]
            wrong = rng.choice([c for c in range(n_classes) if c != truth[i]])
            rows.append((i, w, truth[i] if correct else wrong))
    items, workers, labels = (np.array(c) for c in zip(*rows, strict=True))
    return items, workers, labels, truth


@pytest.mark.parametrize(("n_classes", "seed"), [(2, 0), (2, 1), (3, 2)])
def test_matches_crowd_kit(n_classes, seed):
    items, workers, labels, _ = _simulate(
        300, [0.95, 0.8, 0.7, 0.6, 0.55, 0.9], n_classes=n_classes, seed=seed
    )
    ours = dawid_skene(items, workers, labels)
    frame = pd.DataFrame({"task": items, "worker": workers, "label": labels})
    ref = crowdkit.DawidSkene(n_iter=100, tol=1e-5).fit(frame)
    probas = ref.probas_.sort_index()[sorted(ref.probas_.columns)].to_numpy()
    np.testing.assert_allclose(ours.posteriors, probas, atol=1e-6)
    np.testing.assert_allclose(ours.priors, ref.priors_.sort_index().to_numpy(), atol=1e-6)
    for w in np.unique(workers):
        ref_errors = ref.errors_.loc[w].reindex(range(n_classes)).fillna(0.0)
        ref_errors = ref_errors[sorted(ref_errors.columns)].to_numpy()
        np.testing.assert_allclose(ours.errors[w], ref_errors, atol=1e-6)
    assert ours.iterations == len(ref.loss_history_)


def test_recovers_annotator_quality_and_beats_majority_vote():
    accuracies = [0.95, 0.9, 0.55, 0.5, 0.52]
    items, workers, labels, truth = _simulate(1500, accuracies, seed=3)
    fit = dawid_skene(items, workers, labels)
    np.testing.assert_allclose(fit.accuracy(), accuracies, atol=0.05)
    votes = np.zeros((truth.size, 2))
    np.add.at(votes, (items, labels), 1)
    majority = votes.argmax(axis=1)
    assert (fit.labels == truth).mean() > (majority == truth).mean() + 0.03


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="same length"):
        dawid_skene([0, 1], [0], [1, 1])
    with pytest.raises(ValueError, match="at least one answer"):
        dawid_skene([], [], [])
