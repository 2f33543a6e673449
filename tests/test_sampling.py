"""The InDI sampler against the paper's algebra: oracle, identity, N=1 regression, noise variance."""
import math

import numpy as np
import pytest
import torch

from indi_edge import sampling

SAMPLERS = sampling.SAMPLERS


@pytest.fixture
def pair():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 3, 8, 10)).astype(np.float32)
    y = rng.uniform(-1, 1, x.shape).astype(np.float32)
    return x, y


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("steps", [1, 2, 5, 20])
def test_oracle_model_restores_clean_image(pair, sampler, steps):
    x, y = pair
    out = sampling.run(lambda xt, t: x, y, steps, sampler=sampler)
    np.testing.assert_allclose(out, x, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 3, 20])
@pytest.mark.parametrize("schedule", sampling.EPS_SCHEDULES)
def test_oracle_restores_even_with_noise(pair, steps, schedule):
    x, y = pair
    out = sampling.run(lambda xt, t: x, y, steps, eps=0.05, eps_schedule=schedule, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out, x, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 2, 5, 20])
def test_identity_model_leaves_input_unchanged(pair, steps):
    _, y = pair
    out = sampling.run(lambda xt, t: xt, y, steps, sampler="indi")
    np.testing.assert_allclose(out, y, atol=1e-6)


def test_one_step_is_plain_regression(pair):
    _, y = pair
    calls = []

    def model(xt, t):
        calls.append(t.copy())
        return np.tanh(2 * xt) + 0.1

    out = sampling.run(model, y, 1)
    np.testing.assert_array_equal(out, np.tanh(2 * y) + 0.1)
    assert len(calls) == 1 and calls[0].shape == (3,) and np.all(calls[0] == 1.0)


def test_time_grid_and_model_times(pair):
    _, y = pair
    seen = []
    sampling.run(lambda xt, t: (seen.append(float(t[0])), xt)[1], y, 4)
    assert seen == [1.0, 0.75, 0.5, 0.25]
    assert sampling.time_grid(3) == [1.0, 2 / 3, 1 / 3]


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", None, True])
def test_steps_validated(pair, bad):
    with pytest.raises(ValueError, match="steps"):
        sampling.run(lambda xt, t: xt, pair[1], bad)


def test_bad_sampler_schedule_and_eps(pair):
    _, y = pair
    with pytest.raises(ValueError, match="sampler"):
        sampling.run(lambda xt, t: xt, y, 2, sampler="ddim")
    with pytest.raises(ValueError, match="eps_schedule"):
        sampling.run(lambda xt, t: xt, y, 2, eps=0.1, eps_schedule="cosine", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="eps"):
        sampling.run(lambda xt, t: xt, y, 2, eps=-0.1)
    with pytest.raises(ValueError, match="generator"):
        sampling.run(lambda xt, t: xt, y, 2, eps=0.1)


def test_step_rules_are_the_paper_equations():
    x, x0, y, t, d = 0.3, -0.5, 0.9, 0.6, 0.2
    assert sampling.indi_step(x, x0, y, t, d) == pytest.approx(d / t * x0 + (1 - d / t) * x)
    assert sampling.naive_step(x, x0, y, t, d) == pytest.approx((1 - t + d) * x0 + (t - d) * y)
    assert sampling.cold_step(x, x0, y, t, d) == pytest.approx(x + d * (x0 - y))


def test_brownian_last_step_adds_no_noise_and_no_nan():
    assert sampling.step_noise_std(0.1, 0.1, 0.5, "brownian") == 0.0
    stds = [sampling.step_noise_std(t, 0.01, 0.5, "brownian") for t in sampling.time_grid(100)]
    assert all(math.isfinite(s) and s >= 0 for s in stds)


@pytest.mark.parametrize("schedule", sampling.EPS_SCHEDULES)
def test_noise_variance_follows_the_paper(schedule):
    """With y = x = 0 and an oracle F = 0, x_t is pure noise of variance t^2 eps_t^2 (eq. 8)."""
    eps, steps = 0.2, 5
    y = np.zeros((4000, 1, 4, 4), np.float32)
    path = list(sampling.iterate(lambda xt, t: np.zeros_like(xt), y, steps, eps=eps, eps_schedule=schedule,
                                 rng=np.random.default_rng(3)))
    for t, x_t in path[:-1]:
        expected = t**2 * sampling.eps_at(t, eps, schedule) ** 2
        assert np.isfinite(x_t).all()
        assert x_t.var() == pytest.approx(expected, rel=0.05), f"t={t}"
    assert np.all(path[-1][1] == 0.0)


def test_torch_tensors_work_the_same(pair):
    x, y = pair
    out_np = sampling.run(lambda xt, t: 0.5 * xt + 0.1, y, 3, sampler="indi")
    out_t = sampling.run(lambda xt, t: 0.5 * xt + 0.1, torch.from_numpy(y), 3, sampler="indi")
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_t.numpy(), out_np, atol=1e-6)
    g = torch.Generator().manual_seed(0)
    noisy = sampling.run(lambda xt, t: xt, torch.from_numpy(y), 3, eps=0.1, eps_schedule="brownian", rng=g)
    assert torch.isfinite(noisy).all() and not torch.equal(noisy, torch.from_numpy(y))


def test_same_seed_same_result(pair):
    _, y = pair
    a = sampling.run(lambda xt, t: xt * 0.9, y, 4, eps=0.1, eps_schedule="brownian", rng=np.random.default_rng(7))
    b = sampling.run(lambda xt, t: xt * 0.9, y, 4, eps=0.1, eps_schedule="brownian", rng=np.random.default_rng(7))
    c = sampling.run(lambda xt, t: xt * 0.9, y, 4, eps=0.1, eps_schedule="brownian", rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
