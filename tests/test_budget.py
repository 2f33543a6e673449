"""The latency budget: the largest N whose measured per-frame p90 fits, per frame size, driven by an
injected clock (no wall-clock timing in tests)."""
import warnings

import numpy as np
import pytest

import indi_edge
from indi_edge.budget import StepBudget, p90


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def costed_backend(clock: FakeClock, ms_per_call_per_mpx: float, calls: list):
    """An identity network F(x, t) = x that 'takes' a time proportional to its pixels on the fake clock."""
    def network(x, t):
        clock.now += ms_per_call_per_mpx * x.shape[0] * x.shape[2] * x.shape[3] / 1e6 / 1e3
        calls.append(x.shape)
        return x

    network.multiple = 4
    return network


def restorer(clock, ms_per_call_per_mpx, budget_ms, calls, probe=3):
    return indi_edge.Restorer(costed_backend(clock, ms_per_call_per_mpx, calls), tile=0,
                              budget=StepBudget(budget_ms, probe=probe, warmup=0, clock=clock))


def frame(h, w):
    return np.full((h, w, 3), 100, np.uint8)


def test_picks_the_largest_n_that_fits_and_keeps_it():
    clock, calls = FakeClock(), []
    r = restorer(clock, 100.0, budget_ms=33.3, calls=calls)  # 100 ms a step per Mpx
    steps_per_frame = []
    for _ in range(12):
        before = len(calls)
        r.run(frame(400, 400))  # 0.16 Mpx: 16 ms a step -> N=2 (32 ms) fits 33.3, N=3 (48 ms) does not
        steps_per_frame.append(len(calls) - before)
    choice = r.budget_choices()["400x400"]
    assert choice["steps"] == 2 and choice["settled"] and choice["p90_ms"] == pytest.approx(32.0)
    assert steps_per_frame == [1, 1, 1] + [2] * 9  # probe at N=1, then the prediction, verified and kept


def test_a_bigger_budget_gives_more_steps_and_a_new_size_is_measured_again():
    clock, calls = FakeClock(), []
    r = restorer(clock, 100.0, budget_ms=400, calls=calls)
    for _ in range(8):
        r.run(frame(400, 400))  # 16 ms a step: 8 steps (128 ms) fit 400 ms
    for _ in range(8):
        r.run(frame(800, 800))  # 64 ms a step: 6 steps (384 ms) fit, 8 (512 ms) do not
    chosen = r.budget_choices()
    assert chosen["400x400"]["steps"] == 8 and chosen["800x800"]["steps"] == 6


def test_warns_once_and_runs_one_step_when_nothing_fits():
    clock, calls = FakeClock(), []
    r = restorer(clock, 100.0, budget_ms=10, calls=calls)  # 16 ms for one step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            r.run(frame(400, 400))
    assert len([w for w in caught if "over the 10.0 ms budget" in str(w.message)]) == 1
    assert r.budget_choices()["400x400"]["steps"] == 1 and len(calls) == 10


def test_a_prediction_that_does_not_fit_steps_down():
    """Fixed cost outside the loop that grows with N (e.g. a slow update) breaks the linear prediction:
    the measured p90 decides, and N steps down until it fits."""
    clock = FakeClock()
    budget = StepBudget(50, probe=2, warmup=0, clock=clock)
    key = "size"
    # probe at N=1: 10 ms a frame, all in the loop -> predicts N=4 (40 ms)
    for _ in range(2):
        assert budget.steps(key) == 1
        budget.record(key, 1, 0.010, 0.010)
    assert budget.steps(key) == 4
    for _ in range(2):
        budget.record(key, 4, 0.070, 0.070)  # really 70 ms: over budget
    assert budget.steps(key) == 3
    for _ in range(2):
        budget.record(key, 3, 0.045, 0.045)
    assert budget.chosen()[key] == {"steps": 3, "settled": True, "p90_ms": pytest.approx(45.0)}


def test_stepping_down_to_one_settles_without_measuring_again():
    budget = StepBudget(25, probe=1, warmup=0, clock=FakeClock())
    budget.record("k", 1, 0.010, 0.010)  # predicts N=2
    budget.record("k", 2, 0.030, 0.030)  # does not fit: back to N=1, known to fit
    assert budget.chosen()["k"] == {"steps": 1, "settled": True, "p90_ms": pytest.approx(10.0)}


def test_p90_and_argument_checks():
    assert p90([5.0]) == 5.0
    assert p90(list(map(float, range(1, 11)))) == 9.0
    with pytest.raises(ValueError, match="budget_ms"):
        StepBudget(0)
    with pytest.raises(ValueError, match="choices"):
        StepBudget(10, choices=(2, 1))
    with pytest.raises(ValueError, match="not both"):
        indi_edge.Restorer(lambda x, t: x, budget_ms=10, budget=StepBudget(10))


def test_without_a_budget_the_model_steps_are_used():
    clock, calls = FakeClock(), []
    r = indi_edge.Restorer(costed_backend(clock, 1.0, calls), steps=3, tile=0)
    r.run(frame(8, 8))
    assert len(calls) == 3 and r.budget_choices() == {}


def test_the_first_frames_of_a_size_are_not_measured():
    """A first call that compiles (slow) must not make N=1 look too slow for the budget."""
    budget = StepBudget(50, probe=2, warmup=1, clock=FakeClock())
    budget.record("k", 1, 2.0, 2.0)  # the warm-up frame: 2 s
    assert budget.steps("k") == 1 and not budget.chosen()["k"]["settled"]
    budget.record("k", 1, 0.010, 0.010)
    budget.record("k", 1, 0.010, 0.010)
    assert budget.steps("k") == 4  # predicted from the measured frames only
