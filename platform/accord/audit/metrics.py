"""Agreement metrics, vectorized with numpy, with the conventions of the reference libraries.

- ``percent_agreement(labels_a, labels_b)``: share of units where two raters agree; with a
  single raters × units matrix, the share of agreeing rating pairs inside units.
- ``cohen_kappa(labels_a, labels_b, weights=None | "linear" | "quadratic")``: as scikit-learn's
  ``cohen_kappa_score`` (weights use the positions of the sorted labels).
- ``fleiss_kappa(table, method="fleiss" | "randolph")``: ``table`` is units × categories counts,
  every unit rated by the same number of raters (statsmodels' convention).
- ``krippendorff_alpha(reliability_data, level_of_measurement=...)``: ``reliability_data`` is
  raters × units with NaN for a missing rating (the ``krippendorff`` package's convention);
  units rated once are allowed and contribute nothing. Strings are accepted ("nan" is missing).

Every metric is a function of sums of per-unit quantities (a confusion matrix, a coincidence
matrix, category totals). The ``*_statistic`` functions compute a metric from such sums with
any leading batch shape, which is how ``accord.audit.bootstrap`` evaluates thousands of
resamples at once. Missing labels (NaN, None, "nan") are dropped, never counted as a label.

>>> from accord.audit.metrics import cohen_kappa, krippendorff_alpha
>>> float(cohen_kappa(["a", "b", "a", "a"], ["a", "b", "b", "a"]))
0.5
>>> import numpy as np
>>> data = [[1, 2, np.nan], [1, 2, 2]]
>>> float(krippendorff_alpha(data, level_of_measurement="nominal"))
1.0
"""

from __future__ import annotations

from typing import Literal

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None


# ---------------------------------------------------------------------------- label encoding
def missing_mask(values: np.ndarray) -> np.ndarray:
    """True where a label is missing: NaN for numbers, None/NaN in object arrays, "nan" in
    string arrays (numpy turns NaN into "nan" when it builds a string array)."""
    kind = values.dtype.kind
    if kind == "f" or kind == "c":
        return np.isnan(values)
    if kind in "US":
        return values == values.dtype.type("nan")
    if kind == "O":
        with np.errstate(invalid="ignore"):
            # NaN is the one value unequal to itself.
            return np.equal(values, None) | (values != values)  # noqa: PLR0124
    return np.zeros(values.shape, dtype=bool)


def encode_labels(values, domain=None) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (−1 for missing) of ``values`` in ``domain`` (sorted unique labels when
    not given), and the domain itself."""
    arr = np.asarray(values)
    if arr.dtype.kind == "O" or arr.dtype.kind in "US":
        missing = missing_mask(arr)
    else:
        arr = arr.astype(np.float64, copy=False) if arr.dtype.kind != "f" else arr
        missing = np.isnan(arr)
    present = arr[~missing]
    codes = np.full(arr.shape, -1, dtype=np.int64)
    if domain is None:
        try:
            domain_arr, inverse = np.unique(present, return_inverse=True)
        except TypeError as exc:
            raise ValueError(f"labels of mixed types cannot be ordered: {exc}") from exc
        codes[~missing] = inverse.ravel()
        return codes, domain_arr
    else:
        domain_arr = np.asarray(domain)
        if len(np.unique(domain_arr)) != len(domain_arr):
            raise ValueError("the label domain has duplicate values")
    if present.size:
        order = np.argsort(domain_arr, kind="stable")
        sorted_domain = domain_arr[order]
        pos = np.searchsorted(sorted_domain, present)
        pos_clipped = np.minimum(pos, max(len(sorted_domain) - 1, 0))
        found = (pos < len(sorted_domain)) & (sorted_domain[pos_clipped] == present)
        if not found.all():
            outside = np.unique(present[~found])[:5].tolist()
            raise ValueError(f"labels outside the label domain: {outside}")
        codes[~missing] = order[pos_clipped]
    return codes, domain_arr


def _sparse_value_counts(data: np.ndarray, domain=None) -> tuple[np.ndarray, np.ndarray]:
    """Units × values counts of a float raters × units matrix, NaN missing, touching the full
    matrix once: reliability data is mostly missing (each unit has a few of many raters), so
    everything after finding the present cells works on those cells alone."""
    n_units = data.shape[1]
    flat = data.ravel()
    present = np.flatnonzero(~np.isnan(flat))
    codes, domain_arr = encode_labels(flat[present], domain)
    slots = (present % n_units) * len(domain_arr) + codes
    counts = np.bincount(slots, minlength=n_units * len(domain_arr))
    return counts.reshape(n_units, len(domain_arr)), domain_arr


def value_counts_from_codes(codes: np.ndarray, n_values: int) -> np.ndarray:
    """Units × values counts from a raters × units matrix of codes (−1 missing)."""
    n_units = codes.shape[1]
    units = np.broadcast_to(np.arange(n_units), codes.shape)
    keep = codes >= 0
    flat = units[keep] * n_values + codes[keep]
    return np.bincount(flat, minlength=n_units * n_values).reshape(n_units, n_values)


# ---------------------------------------------------------------------------- Cohen's kappa
def kappa_weights(n_labels: int, weights: Weights = None) -> np.ndarray:
    """Disagreement weights between label positions (scikit-learn's convention)."""
    idx = np.arange(n_labels)
    if weights is None:
        return 1.0 - np.eye(n_labels)
    if weights == "linear":
        return np.abs(idx[:, None] - idx[None, :]).astype(np.float64)
    if weights == "quadratic":
        return ((idx[:, None] - idx[None, :]) ** 2).astype(np.float64)
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")


def kappa_statistic(confusion: np.ndarray, weights: Weights = None) -> np.ndarray:
    """Cohen's kappa of confusion matrices of shape (..., V, V) (rows: rater a)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    w = kappa_weights(confusion.shape[-1], weights)
    n = confusion.sum(axis=(-2, -1))
    rows = confusion.sum(axis=-1)
    cols = confusion.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = rows[..., :, None] * cols[..., None, :] / n[..., None, None]
        return 1.0 - (w * confusion).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))


def paired_codes(labels_a, labels_b, labels=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of two raters' labels in one shared domain, units with a missing label dropped."""
    a = np.asarray(labels_a)
    b = np.asarray(labels_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"labels_a and labels_b must be 1-D of one length, got {a.shape} and {b.shape}"
        )
    same_kind = a.dtype.kind == b.dtype.kind
    both = (
        np.concatenate([a, b])
        if same_kind
        else np.concatenate([a.astype(object), b.astype(object)])
    )
    codes, domain = encode_labels(both, labels)
    ca, cb = codes[: len(a)], codes[len(a) :]
    keep = (ca >= 0) & (cb >= 0)
    return ca[keep], cb[keep], len(domain)


def confusion_counts(codes_a: np.ndarray, codes_b: np.ndarray, n_labels: int) -> np.ndarray:
    return np.bincount(codes_a * n_labels + codes_b, minlength=n_labels * n_labels).reshape(
        n_labels, n_labels
    )


def cohen_kappa(labels_a, labels_b, *, labels=None, weights: Weights = None) -> float:
    """Cohen's kappa between two raters (as ``sklearn.metrics.cohen_kappa_score``).

    ``labels`` fixes the label order used by ``weights`` (sorted unique labels otherwise);
    a label outside it is an error. NaN when chance agreement is total (one label only).
    """
    ca, cb, n_labels = paired_codes(labels_a, labels_b, labels)
    if ca.size == 0:
        return float("nan")
    return float(kappa_statistic(confusion_counts(ca, cb, n_labels), weights))


# ---------------------------------------------------------------------------- percent agreement
def agreement_statistic(confusion: np.ndarray) -> np.ndarray:
    """Share of the diagonal of confusion matrices of shape (..., V, V)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(confusion, axis1=-2, axis2=-1) / confusion.sum(axis=(-2, -1))


def pairwise_agreement_parts(value_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: agreeing ordered rating pairs and all ordered rating pairs."""
    vc = np.asarray(value_counts, dtype=np.float64)
    m = vc.sum(axis=-1)
    return (vc * (vc - 1)).sum(axis=-1), m * (m - 1)


def percent_agreement(labels_a, labels_b=None) -> float:
    """Observed agreement.

    With two label sequences: the share of units (both labels present) where they are equal.
    With one raters × units matrix (NaN missing): the share of agreeing pairs of ratings
    within units, pooled over units (units rated once have no pairs). Both agree for two raters.
    """
    if labels_b is not None:
        ca, cb, _ = paired_codes(labels_a, labels_b)
        return float(np.mean(ca == cb)) if ca.size else float("nan")
    codes, domain = encode_labels(labels_a)
    if codes.ndim != 2:
        raise ValueError("reliability data must be a 2-D raters × units matrix")
    agree, pairs = pairwise_agreement_parts(value_counts_from_codes(codes, len(domain)))
    total = pairs.sum()
    return float(agree.sum() / total) if total else float("nan")


# ---------------------------------------------------------------------------- Fleiss' kappa
def fleiss_statistic(n_units, agree_sum, category_totals, n_raters, method: str = "fleiss"):
    """Fleiss' kappa from the number of units, the sum over units of the per-unit agreement
    ``(Σ n_uk² − n) / (n (n − 1))``, the category totals (..., K) and raters per unit."""
    category_totals = np.asarray(category_totals, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_mean = np.asarray(agree_sum, dtype=np.float64) / np.asarray(n_units, dtype=np.float64)
        if method == "fleiss":
            p_cat = category_totals / category_totals.sum(axis=-1, keepdims=True)
            p_exp = (p_cat * p_cat).sum(axis=-1)
        elif method.startswith(("rand", "unif")):
            p_exp = 1.0 / category_totals.shape[-1]
        else:
            raise ValueError(f"method must be 'fleiss' or 'randolph', not {method!r}")
        return (p_mean - p_exp) / (1.0 - p_exp)


def fleiss_unit_agreement(table: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-unit agreement of a units × categories table; every unit must have the same
    number of ratings (Fleiss' design)."""
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D units × categories, got shape {table.shape}")
    raters = table.sum(axis=1)
    if table.shape[0] == 0:
        raise ValueError("table has no units")
    n = raters.max()
    if not np.all(raters == n):
        bad = int(np.flatnonzero(raters != n)[0])
        raise ValueError(
            f"every unit needs the same number of ratings for Fleiss' kappa: row {bad} has "
            f"{raters[bad]:g}, others {n:g} (use krippendorff_alpha for unequal counts)"
        )
    if n < 2:
        raise ValueError("Fleiss' kappa needs at least two ratings per unit")
    return ((table * table).sum(axis=1) - n) / (n * (n - 1.0)), int(n)


def fleiss_kappa(table, method: str = "fleiss") -> float:
    """Fleiss' (or Randolph's) kappa of a units × categories count table (statsmodels'
    ``fleiss_kappa``)."""
    table = np.asarray(table, dtype=np.float64)
    per_unit, n = fleiss_unit_agreement(table)
    return float(fleiss_statistic(len(table), per_unit.sum(), table.sum(axis=0), n, method))


# ---------------------------------------------------------------------------- Krippendorff's alpha
def coincidence_contributions(value_counts: np.ndarray) -> np.ndarray:
    """Each unit's contribution to the coincidence matrix, shape (N, V, V)."""
    vc = np.asarray(value_counts, dtype=np.float64)
    m = vc.sum(axis=1)
    scale = np.divide(1.0, m - 1.0, out=np.zeros_like(m), where=m >= 2)
    outer = vc[:, :, None] * vc[:, None, :]
    idx = np.arange(vc.shape[1])
    outer[:, idx, idx] -= vc
    return outer * scale[:, None, None]


def coincidences(value_counts: np.ndarray) -> np.ndarray:
    """The coincidence matrix (V × V) of units × values counts, without an N × V × V array."""
    vc = np.asarray(value_counts, dtype=np.float64)
    m = vc.sum(axis=1)
    scale = np.divide(1.0, m - 1.0, out=np.zeros_like(m), where=m >= 2)
    scaled = vc * scale[:, None]
    return scaled.T @ vc - np.diag(scaled.sum(axis=0))


def distance_matrix(value_domain: np.ndarray, level: Level, n_v: np.ndarray) -> np.ndarray:
    """Squared distances δ² between values, shape (..., V, V) (``n_v`` may be batched)."""
    n_v = np.asarray(n_v, dtype=np.float64)
    if level == "nominal":
        v = len(value_domain)
        return np.broadcast_to(1.0 - np.eye(v), n_v.shape[:-1] + (v, v))
    if level == "ordinal":
        cum = np.cumsum(n_v, axis=-1)
        lo = np.minimum.outer(np.arange(n_v.shape[-1]), np.arange(n_v.shape[-1]))
        hi = np.maximum.outer(np.arange(n_v.shape[-1]), np.arange(n_v.shape[-1]))
        between = cum[..., hi] - cum[..., lo] + n_v[..., lo]
        return (between - (n_v[..., :, None] + n_v[..., None, :]) / 2.0) ** 2
    values = np.asarray(value_domain)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"level_of_measurement={level!r} needs numeric values, got {values.dtype}")
    values = values.astype(np.float64)
    diff = values[:, None] - values[None, :]
    if level == "interval":
        d = diff**2
    elif level == "ratio":
        total = values[:, None] + values[None, :]
        d = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    else:
        raise ValueError(f"level_of_measurement must be one of {LEVELS}, not {level!r}")
    return np.broadcast_to(d, n_v.shape[:-1] + d.shape)


def alpha_statistic(coincidence: np.ndarray, value_domain: np.ndarray, level: Level) -> np.ndarray:
    """Krippendorff's alpha of coincidence matrices of shape (..., V, V)."""
    o = np.asarray(coincidence, dtype=np.float64)
    n_v = o.sum(axis=-2)
    n = n_v.sum(axis=-1)
    d = distance_matrix(value_domain, level, n_v)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (n_v[..., :, None] * n_v[..., None, :] * d).sum(axis=(-2, -1)) / (n - 1.0)
        return 1.0 - (o * d).sum(axis=(-2, -1)) / expected


def alpha_inputs(
    reliability_data=None,
    *,
    value_counts=None,
    value_domain=None,
    level_of_measurement: Level = "interval",
) -> tuple[np.ndarray, np.ndarray]:
    """Units × values counts and the value domain, validated as the ``krippendorff`` package
    does."""
    if (reliability_data is None) == (value_counts is None):
        raise ValueError("give either reliability_data or value_counts, not both")
    if level_of_measurement not in LEVELS:
        raise ValueError(
            f"level_of_measurement must be one of {LEVELS}, not {level_of_measurement!r}"
        )
    if value_counts is None:
        data = np.asarray(reliability_data)
        if data.ndim != 2:
            raise ValueError(f"reliability_data must be 2-D raters × units, got shape {data.shape}")
        if data.dtype.kind in "USO" and value_domain is None and level_of_measurement != "nominal":
            raise ValueError(
                "string labels need an ordered value_domain unless the level is nominal"
            )
        if data.dtype.kind == "f":
            vc, domain = _sparse_value_counts(data, value_domain)
        else:
            codes, domain = encode_labels(data, value_domain)
            vc = value_counts_from_codes(codes, len(domain))
    else:
        vc = np.asarray(value_counts)
        if vc.ndim != 2:
            raise ValueError(f"value_counts must be 2-D units × values, got shape {vc.shape}")
        domain = np.arange(vc.shape[1]) if value_domain is None else np.asarray(value_domain)
        if len(domain) != vc.shape[1]:
            raise ValueError("value_domain must have one value per column of value_counts")
    if len(domain) <= 1:
        raise ValueError("Krippendorff's alpha needs more than one value in the domain")
    if not (vc.sum(axis=1) >= 2).any():
        raise ValueError("Krippendorff's alpha needs a unit rated by at least two raters")
    return vc, domain


def krippendorff_alpha(
    reliability_data=None,
    *,
    value_counts=None,
    value_domain=None,
    level_of_measurement: Level = "interval",
) -> float:
    """Krippendorff's alpha (the ``krippendorff`` package's ``alpha``, same defaults)."""
    vc, domain = alpha_inputs(
        reliability_data,
        value_counts=value_counts,
        value_domain=value_domain,
        level_of_measurement=level_of_measurement,
    )
    return float(alpha_statistic(coincidences(vc), domain, level_of_measurement))
