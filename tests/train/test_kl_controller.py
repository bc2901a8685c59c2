import pytest

from accord.train.kl_controller import AdaptiveKLController, FixedKLController, make_kl_controller


def test_adaptive_kl_moves_toward_target():
    above = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=1000)
    for _ in range(10):
        above.update(current_kl=20.0, n_steps=64)
    assert above.value > 0.1
    below = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=1000)
    for _ in range(10):
        below.update(current_kl=1.0, n_steps=64)
    assert below.value < 0.1
    on_target = AdaptiveKLController(init_kl_coef=0.1, target=6.0, horizon=1000)
    on_target.update(current_kl=6.0, n_steps=64)
    assert on_target.value == pytest.approx(0.1)


def test_adaptive_kl_error_is_clipped():
    c = AdaptiveKLController(init_kl_coef=1.0, target=1.0, horizon=100)
    c.update(current_kl=1000.0, n_steps=10)
    assert c.value == pytest.approx(1.0 + 0.2 * 10 / 100)


def test_closed_loop_reaches_target():
    # A toy plant: KL falls as 1/β. The controller settles β so that KL ≈ target.
    c = AdaptiveKLController(init_kl_coef=0.05, target=4.0, horizon=200)
    for _ in range(300):
        c.update(current_kl=0.5 / c.value, n_steps=16)
    assert 0.5 / c.value == pytest.approx(4.0, rel=0.05)


def test_fixed_and_factory():
    assert FixedKLController(0.3).update(100.0, 10) == 0.3
    assert isinstance(make_kl_controller(0.1), FixedKLController)
    assert isinstance(make_kl_controller(0.1, target=6.0), AdaptiveKLController)
    with pytest.raises(ValueError, match="target"):
        AdaptiveKLController(init_kl_coef=0.1, target=0.0, horizon=10)
