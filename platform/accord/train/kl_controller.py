"""KL coefficient controllers for RLHF with a KL penalty to the reference policy.

``FixedKLController`` keeps β constant. ``AdaptiveKLController`` is the proportional controller of
Ziegler et al. (2019), "Fine-Tuning Language Models from Human Preferences", §2.2:

    e_t = clip(KL_t / KL_target − 1, −0.2, 0.2)
    β_{t+1} = β_t · (1 + K_β · e_t),  K_β = n / horizon

so β grows while the measured KL exceeds the target and shrinks while it is below. Under data
parallelism every rank must hold the same β (it scales every rank's rewards), so
``update_across_ranks`` feeds the controller the KL averaged over all ranks' samples
(``torch.distributed.all_reduce`` when a process group is initialised), never a rank's own.

>>> from accord.train.kl_controller import AdaptiveKLController
>>> c = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=10_000)
>>> round(c.update(current_kl=12.0, n_steps=256), 6)
0.100512
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FixedKLController:
    """A constant KL coefficient."""

    value: float

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value


@dataclass
class AdaptiveKLController:
    """Ziegler et al.'s adaptive KL coefficient (target KL in nats per sequence, horizon in
    samples)."""

    init_kl_coef: float
    target: float
    horizon: int

    def __post_init__(self) -> None:
        if self.init_kl_coef <= 0:
            raise ValueError(f"init_kl_coef must be > 0, got {self.init_kl_coef}")
        if self.target <= 0:
            raise ValueError(f"target KL must be > 0, got {self.target}")
        if self.horizon <= 0:
            raise ValueError(f"horizon must be > 0, got {self.horizon}")
        self.value = self.init_kl_coef

    def update(self, current_kl: float, n_steps: int) -> float:
        """Move β after a batch of ``n_steps`` samples whose mean KL was ``current_kl``."""
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon
        return self.value


def make_kl_controller(
    kl_coef: float, *, target: float | None = None, horizon: int = 10_000
) -> FixedKLController | AdaptiveKLController:
    """Adaptive when a target KL is given, fixed otherwise."""
    if target is None:
        return FixedKLController(kl_coef)
    return AdaptiveKLController(init_kl_coef=kl_coef, target=target, horizon=horizon)


def update_across_ranks(
    controller: FixedKLController | AdaptiveKLController,
    local_kl: float,
    local_samples: int,
    *,
    device: torch.device | str | None = None,
) -> float:
    """Update β from the KL averaged over every rank's samples; return the new β.

    With an initialised ``torch.distributed`` process group of more than one rank, the
    sample-weighted sum of ``local_kl`` and the sample counts are all-reduced, so all ranks
    update with the same KL and the same ``n`` and stay in step. ``device`` is where the
    reduced tensor lives (the rank's GPU under NCCL). Alone, it is ``controller.update``.
    """
    kl, n = float(local_kl), int(local_samples)
    if (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    ):
        totals = torch.tensor([kl * n, float(n)], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(totals, op=torch.distributed.ReduceOp.SUM)
        kl, n = (totals[0] / totals[1]).item(), round(totals[1].item())
    return controller.update(kl, n)
