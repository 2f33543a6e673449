"""The 2-D toy of the paper's Fig. 1: closed-form posterior mean restored with indi_edge.sampling."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from indi_edge import cli, sampling
from indi_edge.training import toy

PROBLEMS = [toy.denoising_problem, toy.missing_information_problem]
NEAR = 0.1  # "on a mode": within this distance of one


@pytest.fixture(params=PROBLEMS, ids=lambda make: make.__name__)
def problem(request):
    return request.param()


def observations(problem, n=300, seed=0):
    return problem.sample(np.random.default_rng(seed), n)


@pytest.mark.parametrize("steps", [50, 200])
def test_iterated_restoration_ends_on_the_modes(problem, steps):
    _, y = observations(problem)
    x0 = sampling.run(problem.posterior_mean, y, steps)
    assert np.mean(toy.distance_to_nearest_mode(problem, x0) < NEAR) >= 0.95


def test_iterated_restoration_reaches_every_mode(problem):
    # Iteration samples the posterior: it must not collapse onto a few modes (all weights are 1/4).
    _, y = observations(problem)
    x0 = sampling.run(problem.posterior_mean, y, 50)
    nearest = np.argmin(np.linalg.norm(x0[:, None] - problem.centers[None], axis=-1), axis=1)
    assert np.bincount(nearest, minlength=len(problem.centers)).min() >= 0.1 * len(y)


def test_one_step_regression_lands_between_the_modes(problem):
    _, y = observations(problem)
    x0 = sampling.run(problem.posterior_mean, y, 1)
    assert np.mean(toy.distance_to_nearest_mode(problem, x0) > NEAR) > 0.5


def test_one_step_run_is_exactly_the_posterior_mean_at_t1(problem):
    _, y = observations(problem)
    np.testing.assert_array_equal(sampling.run(problem.posterior_mean, y, 1), problem.posterior_mean(y, 1))


def test_iterate_path_starts_at_y_and_ends_at_run(problem):
    _, y = observations(problem, n=20)
    path = list(sampling.iterate(problem.posterior_mean, y, 30))
    assert [t for t, _ in path][0] == 1.0 and path[-1][0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(path[0][1], y)
    np.testing.assert_array_equal(path[-1][1], sampling.run(problem.posterior_mean, y, 30))


def test_posterior_mean_matches_the_paper_formula(problem):
    # Direct evaluation of E[x|x_t] = sum c_i w_i G(.) / sum w_i G(.) where nothing underflows.
    rng = np.random.default_rng(3)
    x_t = rng.uniform(-1.5, 1.5, size=(40, 2))
    t = rng.uniform(0.3, 1.0, size=40)
    H_t = (1 - t)[:, None, None] * np.eye(2) + t[:, None, None] * problem.H
    residual = x_t[:, None, :] - np.einsum("nab,db->nda", H_t, problem.centers)
    gauss = np.exp(-np.sum(residual**2, axis=-1) / (2 * (t * problem.sigma)[:, None] ** 2))
    expected = (problem.weights * gauss) @ problem.centers / (problem.weights * gauss).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(problem.posterior_mean(x_t, t), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t", [0.0, 1e-300, 1e-200, 1e-30, 1e-8])
def test_posterior_mean_is_the_nearest_mode_as_t_goes_to_zero(problem, t):
    x_t = np.random.default_rng(4).uniform(-3, 3, size=(50, 2))
    mean = problem.posterior_mean(x_t, np.full(len(x_t), t))
    nearest = problem.centers[np.argmin(np.linalg.norm(x_t[:, None] - problem.centers[None], axis=-1), axis=1)]
    np.testing.assert_allclose(mean, nearest, atol=1e-6)


@pytest.mark.parametrize("t", [0.0, 1e-300, 1e-8, 1.0])
def test_posterior_mean_stays_finite_far_from_every_mode(t):
    # |x_t|^2 would overflow here; the nearest corner is still (1, -1) in the hard limit.
    mean = toy.denoising_problem().posterior_mean(np.array([[1e200, -1e200]]), np.array([t]))
    np.testing.assert_array_equal(mean, [[1.0, -1.0]])


def test_posterior_mean_keeps_float32_and_accepts_a_scalar_t(problem):
    y = observations(problem, n=10)[1].astype(np.float32)
    mean = problem.posterior_mean(y, 0.5)
    assert mean.dtype == np.float32 and mean.shape == (10, 2)
    np.testing.assert_allclose(mean, problem.posterior_mean(y.astype(np.float64), np.full(10, 0.5)), rtol=1e-6)


def test_sample_draws_centers_and_observes_them_through_H(problem):
    x, y = observations(problem, n=2000)
    assert x.shape == y.shape == (2000, 2)
    assert np.all(toy.distance_to_nearest_mode(problem, x) == 0)
    noise = y - x @ problem.H.T
    assert np.std(noise) == pytest.approx(problem.sigma, rel=0.05)


@pytest.mark.parametrize("bad", [
    dict(centers=np.zeros((4, 3))),
    dict(weights=np.array([0.5, 0.5, 0.0, 0.0])),
    dict(weights=np.full(4, 0.3)),
    dict(weights=np.full(3, 1 / 3)),
    dict(H=np.eye(3)),
    dict(sigma=-1.0),
])
def test_problem_rejects_bad_parameters(bad):
    good = dict(centers=toy.square_modes(), weights=np.full(4, 0.25), H=np.eye(2), sigma=0.5)
    with pytest.raises(ValueError):
        toy.ToyProblem(**{**good, **bad})


@pytest.mark.parametrize("x_t, t", [
    (np.zeros((5, 3)), np.ones(5)),
    (np.zeros((5, 2)), np.ones(4)),
    (np.zeros((5, 2)), np.full(5, 1.5)),
    (np.full((5, 2), np.nan), np.ones(5)),
])
def test_posterior_mean_rejects_bad_input(x_t, t):
    with pytest.raises(ValueError):
        toy.denoising_problem().posterior_mean(x_t, t)


def test_toy_command_writes_a_png(tmp_path):
    output = tmp_path / "fig.png"
    assert cli.main(["toy", "-o", str(output), "--steps", "20", "--samples", "50", "--seed", "1"]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(output))
    assert image is not None and image.ndim == 3
    height, width = image.shape[:2]
    assert 200 <= height <= 2000 and width > height  # two panels side by side
    assert image.std() > 10  # something was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]  # no temp file left behind


def test_toy_command_reports_a_missing_folder(tmp_path, capsys):
    assert cli.main(["toy", "-o", str(tmp_path / "missing" / "fig.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_toy_modules_import_neither_torch_nor_matplotlib():
    code = ("import sys, indi_edge.training.toy, indi_edge.commands.toy; "
            "assert not {'torch', 'matplotlib'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
