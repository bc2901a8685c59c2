"""Dawid–Skene: each annotator's confusion matrix and each item's posterior label, by EM.

Dawid & Skene (1979) model an annotator w answering k on an item whose true label is c with
probability ``errors[w, k, c]`` and true labels drawn from ``priors``. EM alternates: posterior
label probabilities per item given the annotators' matrices (E-step), then the matrices and
priors given the posteriors (M-step). This implementation follows the conventions of
crowd-kit's ``DawidSkene`` (a maintained library) so the two agree to 1e-6 (tested): majority-
vote initialisation, probabilities floored at 1e-10, at most 100 iterations, stopping when the
evidence lower bound per answer improves by less than 1e-5.

For preference pairs an "item" is a pair and the labels are the answers annotators give
("chosen", "rejected", "tie" or any other coding); the posterior of the label that means
"chosen ≻ rejected" is the soft label a snapshot keeps.

>>> import numpy as np
>>> items = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
>>> workers = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
>>> labels = np.array([1, 1, 0, 0, 0, 0, 1, 1, 1])       # worker 2 disagrees once
>>> fit = dawid_skene(items, workers, labels)
>>> fit.labels.tolist()
[1, 0, 1]
>>> bool(fit.posteriors[0, 1] > 0.9)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-10


@dataclass(frozen=True)
class DawidSkeneFit:
    """``posteriors[i, c]``: P(item i's true label is ``classes[c]``); ``errors[w, k, c]``:
    P(worker w answers ``classes[k]`` | true label ``classes[c]``); items, workers and classes
    are the sorted distinct values of the inputs."""

    items: np.ndarray
    workers: np.ndarray
    classes: np.ndarray
    posteriors: np.ndarray
    priors: np.ndarray
    errors: np.ndarray
    iterations: int
    elbo_history: list[float]

    @property
    def labels(self) -> np.ndarray:
        return self.classes[np.argmax(self.posteriors, axis=1)]

    def accuracy(self) -> np.ndarray:
        """Per worker: P(answer = true label), weighted by the estimated class priors."""
        diagonal = np.einsum("wcc->wc", self.errors)
        return diagonal @ self.priors


def _m_step(item, worker, label, posteriors, observed, n_workers, n_classes):
    errors = np.zeros((n_workers, n_classes, n_classes))
    np.add.at(errors, (worker, label), posteriors[item])
    # Only (worker, answer) cells the worker used are floored, as crowd-kit does.
    errors = np.where(observed[:, :, None], np.maximum(errors, _EPS), 0.0)
    totals = errors.sum(axis=1, keepdims=True)
    return errors / totals


def _e_step(item, worker, label, priors, errors, n_items):
    log_lik = np.zeros((n_items, priors.size))
    with np.errstate(divide="ignore"):
        np.add.at(log_lik, item, np.log2(errors[worker, label]))
    log_lik += np.log2(np.maximum(priors, _EPS))
    scaled = np.exp2(log_lik - log_lik.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def _elbo(item, worker, label, posteriors, priors, errors):
    with np.errstate(divide="ignore"):
        per_answer = np.log(errors[worker, label]) + np.log(np.maximum(priors, _EPS))
    joint = float(np.sum(posteriors[item] * per_answer))
    clipped = np.maximum(posteriors, _EPS)
    return joint - float(np.sum(clipped * np.log(clipped)))


def dawid_skene(items, workers, labels, *, n_iter: int = 100, tol: float = 1e-5) -> DawidSkeneFit:
    """Fit Dawid–Skene to answers given as three parallel arrays (one row per answer)."""
    items, workers, labels = (np.asarray(x).ravel() for x in (items, workers, labels))
    if not (items.size == workers.size == labels.size):
        raise ValueError(
            "items, workers and labels need the same length, got "
            f"{items.size}, {workers.size} and {labels.size}"
        )
    if items.size == 0:
        raise ValueError("Dawid–Skene needs at least one answer")
    if n_iter < 1:
        raise ValueError(f"n_iter must be at least 1, got {n_iter}")
    item_ids, item = np.unique(items, return_inverse=True)
    worker_ids, worker = np.unique(workers, return_inverse=True)
    classes, label = np.unique(labels, return_inverse=True)
    n_items, n_workers, n_classes = item_ids.size, worker_ids.size, classes.size
    observed = np.zeros((n_workers, n_classes), dtype=bool)
    observed[worker, label] = True

    # Majority-vote start: each item's answer shares.
    votes = np.zeros((n_items, n_classes))
    np.add.at(votes, (item, label), 1.0)
    posteriors = votes / votes.sum(axis=1, keepdims=True)
    priors = posteriors.mean(axis=0)
    errors = _m_step(item, worker, label, posteriors, observed, n_workers, n_classes)
    history: list[float] = []
    previous = -np.inf
    iterations = 0
    for iterations in range(1, n_iter + 1):  # noqa: B007 (the count is reported)
        posteriors = _e_step(item, worker, label, priors, errors, n_items)
        priors = posteriors.mean(axis=0)
        errors = _m_step(item, worker, label, posteriors, observed, n_workers, n_classes)
        elbo = _elbo(item, worker, label, posteriors, priors, errors) / items.size
        history.append(elbo)
        if elbo - previous < tol:
            break
        previous = elbo
    return DawidSkeneFit(
        items=item_ids,
        workers=worker_ids,
        classes=classes,
        posteriors=np.maximum(posteriors, _EPS),
        priors=priors,
        errors=errors,
        iterations=iterations,
        elbo_history=history,
    )
