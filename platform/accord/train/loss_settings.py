"""The losses' names and defaults without torch: configs (``PPOTrainConfig``) validate against
them and the CLI builds its options from those configs, so importing them must not load torch
(every ``accord`` command would pay for it). ``accord.train.losses`` re-exports them."""

from __future__ import annotations

# The only per-token KL estimator that may sit in the reward. A reward term gets no gradient of
# its own: the policy gradient sees it only through E[k·∇log π], which is ∇KL(π‖π_ref) for
# k1 = log π − log π_ref alone. k3 = (r − 1) − log r (r = π_ref/π) is non-negative and has the
# right mean, but E[k3·∇log π] ≠ ∇KL: on a 2-arm bandit the policy runs to a corner instead of
# π* ∝ π_ref·exp(R/β). k3 stays available for diagnostics (``kl_per_token``).
REWARD_KL_ESTIMATORS = ("k1",)
KL_ESTIMATORS = ("k1", "k3")
# GAE λ of the PPO trainer (``PPOTrainConfig.lam``), also the sequence bandit's default.
DEFAULT_GAE_LAMBDA = 0.95


def check_reward_kl_estimator(estimator: str) -> str:
    """``estimator`` if it is correct as a per-token reward penalty, else a ValueError saying
    why."""
    if estimator in REWARD_KL_ESTIMATORS:
        return estimator
    if estimator in KL_ESTIMATORS:
        raise ValueError(
            f"kl_estimator {estimator!r} cannot be used in the reward: a reward term has no "
            "gradient "
            "of its own, and only k1 = log π − log π_ref gives E[k·∇log π] = ∇KL(π‖π_ref); "
            f"{estimator} in the reward converges to the wrong policy. Use 'k1' (the exact, "
            "non-negative KL is logged as kl/exact)"
        )
    raise ValueError(
        f"unknown KL estimator {estimator!r}: the reward takes {', '.join(REWARD_KL_ESTIMATORS)}"
    )
