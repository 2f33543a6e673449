"""benchmarks/gpu_harness.py without a GPU: its refusal to run, its stand-in network and engine, its
case list and report, and the whole harness on the CPU simulation of tests/test_gpu_loop_sim.py
(torch CPU tensors over simulated device memory, the simulated stream recording what the stand-in
engine enqueues, so capture and replay go through the harness's code). What only a GPU shows
(torch on an external stream inside a cuda-bindings capture, the real kernels) is not checked here.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_gpu_loop_sim import sim, view  # noqa: F401 - sim is the fixture the last tests use

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_harness.py"


def load_harness():
    spec = importlib.util.spec_from_file_location("gpu_harness", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_harness"] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


harness = load_harness()


class HostMemory:
    """The harness's memory adapter on the CPU: torch tensors over host pointers; work runs at once,
    or goes to the simulated stream (recorded while it captures) when a SimCuda is given."""

    def __init__(self, sim=None):
        self.sim = sim

    def tensor(self, ptr, shape, dtype):
        return torch.from_numpy(view(ptr, int(np.prod(shape)), dtype).reshape(shape))

    def empty(self, shape):
        return torch.empty(tuple(shape), dtype=torch.float32)

    def enqueue(self, stream, work):
        if self.sim is None:
            work()
        else:
            self.sim.enqueue(stream, work)


# --- no GPU: a clear message and exit 2 -----------------------------------------------------------------

def test_without_a_gpu_it_says_so_exits_2_and_writes_the_reason(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the harness would run (device_check.sh runs it)")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gpu_harness needs a CUDA GPU" in done.stdout and "sees no CUDA GPU" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "no CUDA GPU" in json.loads((tmp_path / "gpu_harness.json").read_text())["skipped"]


# --- the stand-in network and engine ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float16, 1e-3)])
def test_the_torch_network_is_the_numpy_one_with_t_per_batch_item(dtype, tol):
    x = np.random.default_rng(0).uniform(-2, 2, (3, 3, 4, 5)).astype(dtype)
    t = np.array([1.0, 0.5, 0.25], np.float32)
    out = torch.zeros(x.shape, dtype=torch.from_numpy(x).dtype)
    harness.network_torch(torch.from_numpy(x), torch.from_numpy(t), out, torch.empty(x.shape), torch.empty(3))
    want = harness.network_numpy(x, t)
    assert want.dtype == dtype
    np.testing.assert_allclose(out.numpy().astype(np.float32), want.astype(np.float32), rtol=0, atol=tol)
    # the formula itself: tanh(A x) (1 - t/2) + B, item by item
    x32 = x.astype(np.float32)
    for k in range(3):
        np.testing.assert_allclose(want[k].astype(np.float32), np.tanh(1.3 * x32[k]) * (1 - 0.5 * t[k]) + 0.1,
                                   rtol=0, atol=tol)


def test_the_fake_context_refuses_what_tensorrt_refuses_and_computes_f():
    context = harness.FakeContext(HostMemory(), "float32")
    buffers = {name: np.zeros(shape + (64,), np.uint8) for name, shape in
               (("x", (2 * 3 * 4 * 4 * 4,)), ("t", (8,)), ("x0", (2 * 3 * 4 * 4 * 4,)))}
    ptrs = {name: -(-a.ctypes.data // 256) * 256 for name, a in buffers.items()}  # 256-byte-aligned inside
    assert not context.execute_async_v3(0)                      # nothing set yet
    assert not context.set_input_shape("x", (2, 3, 4))          # wrong rank
    assert not context.set_input_shape("y", (2,))               # no such input
    assert context.set_input_shape("x", (2, 3, 4, 4)) and context.set_input_shape("t", (2,))
    assert context.get_tensor_shape("x0") == (2, 3, 4, 4)
    assert not context.set_tensor_address("x", ptrs["x"] + 4)   # misaligned: TensorRT refuses
    assert not context.set_tensor_address("z", ptrs["x"])
    assert context.set_tensor_address("x", ptrs["x"]) and context.set_tensor_address("t", ptrs["t"])
    assert not context.execute_async_v3(0)                      # x0 not set
    assert context.set_tensor_address("x0", ptrs["x0"])
    assert not context.set_optimization_profile_async(1, 0) and context.set_optimization_profile_async(0, 0)
    x = view(ptrs["x"], 96, np.float32).reshape(2, 3, 4, 4)
    x[...] = np.random.default_rng(1).uniform(-1, 1, x.shape)
    view(ptrs["t"], 2, np.float32)[...] = [1.0, 0.25]
    assert context.execute_async_v3(0) and context.executes == 1
    np.testing.assert_allclose(view(ptrs["x0"], 96, np.float32).reshape(x.shape),
                               harness.network_numpy(x, np.array([1.0, 0.25], np.float32)), rtol=0, atol=1e-6)
    context.set_input_shape("t", (3,))
    assert not context.execute_async_v3(0)                      # t's batch differs from x's


def test_recorded_draws_replay_in_order_and_a_missing_one_is_an_error():
    recorder = harness.Recorder(np.random.default_rng(0))
    draws = [recorder.standard_normal((2, 3), dtype=np.float32) for _ in range(2)]
    replay = harness.Replay(recorder.take())
    assert recorder.draws == []
    np.testing.assert_array_equal(replay.standard_normal((2, 3)), draws[0])
    np.testing.assert_array_equal(replay.standard_normal((2, 3)), draws[1])
    with pytest.raises(AssertionError, match="more noise draws"):
        replay.standard_normal((2, 3))


# --- the case list and the report ------------------------------------------------------------------------

def test_the_cases_cover_samplers_eps_steps_dtypes_and_both_apis():
    cases = harness.cases()
    assert len({c.name for c in cases}) == len(cases) == 2 * (1 + 2 * 3 * 3 * 2)
    loops = [c for c in cases if c.api != "call"]
    assert {(c.api, c.sampler, c.steps, c.eps > 0, c.dtype) for c in loops} == {
        (a, s, n, e, d) for a in ("restore", "frame") for s in ("indi", "naive", "cold") for n in (1, 2, 4)
        for e in (False, True) for d in ("float32", "float16")}
    assert [c.dtype for c in cases] == sorted((c.dtype for c in cases), reverse=True)  # one backend per dtype
    assert harness.TOLERANCE == {"float32": 1e-5, "float16": 1e-2}


def test_the_report_is_json_and_the_exit_code_follows_it(tmp_path):
    report = {"device": "X", "passed": 1, "failed": 1, "seconds": 0.1, "cases": [
        {"name": "a", "passed": True, "max_abs_diff": 1e-7, "graph_replay_ms": 0.5, "error": None, "warnings": []},
        {"name": "b", "passed": False, "max_abs_diff": 0.5, "graph_replay_ms": None, "error": None,
         "warnings": ["CUDA graph capture failed"]}]}
    path = harness.write_report(report, tmp_path / "new")
    assert path.name == "gpu_harness.json" and json.loads(path.read_text()) == report
    assert harness.exit_code(report) == 1
    assert harness.exit_code({**report, "failed": 0}) == 0
    assert harness.exit_code({"skipped": "no GPU"}) == 2
    assert harness.exit_code({"cases": [], "failed": 0}) == 1  # nothing ran is no pass
    lines = harness.summary(report)
    assert "1 passed, 1 failed" in lines[0] and "FAIL b" in lines[2] and "capture failed" in lines[2]


# --- the whole harness on the CPU simulation of cuda-bindings --------------------------------------------

def test_the_whole_harness_passes_on_the_cpu_simulation(sim):
    report = harness.run_all(HostMemory(sim), repeat=2)
    failed = [(row["name"], row.get("error"), row.get("max_abs_diff")) for row in report["cases"] if not row["passed"]]
    assert not failed and report["passed"] == len(harness.cases())
    loops = [row for row in report["cases"] if row["api"] != "call"]
    assert all(row["captured"] and row["replayed"] and row["graph_replay_ms"] is not None for row in loops)
    assert all(row["max_level_diff"] <= 1 for row in loops if row["api"] == "frame")
    assert sim.launches == len(loops) * (harness.CALLS - 1 + 2)  # two replays and two timed launches each
    assert not sim.memory and not sim.streams and not sim.graphs  # every backend closed
    assert report["device"] == "Sim GPU (sm_87)"


def test_the_harness_fails_a_case_whose_reference_differs(sim, monkeypatch):
    # The comparison is not vacuous: a reference F that is off by 1e-4 fails every fp32 case.
    numpy_f = harness.network_numpy
    monkeypatch.setattr(harness, "network_numpy", lambda x, t: (numpy_f(x, t) + np.float32(1e-4)).astype(x.dtype))
    selected = [c for c in harness.cases() if c.dtype == "float32" and c.steps in (0, 2) and c.sampler in ("-", "cold")]
    report = harness.run_all(HostMemory(sim), selected=selected, repeat=1)
    assert report["failed"] == len(selected) and harness.exit_code(report) == 1
    assert all(1e-5 < row["max_abs_diff"] < 1e-3 for row in report["cases"])
