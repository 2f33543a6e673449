"""GPU backends: what runs without a GPU (the loop plan they capture, the NaN/Inf check, cuda-python
error handling, ONNX Runtime GPU options and IO binding, the torch backend's loop on the CPU device,
the benchmark's clean skip), and, marked `gpu`, the torch CUDA backend on a real GPU."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from indi_edge import cuda_runtime, ops, sampling
from indi_edge.backends import device_loop
from indi_edge.backends.onnx import OnnxBackend, cuda_provider, gpu_providers, graph_device, open_onnx, tensorrt_provider
from indi_edge.restorer import Restorer
from indi_edge.tensorrt.profiles import Profile

ROOT = Path(__file__).resolve().parents[1]
HAS_CUDA_PYTHON = importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None


def torch_sees_a_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def toy_model(x, t):
    """A smooth F(x, t) that depends on both arguments (numpy)."""
    return np.tanh(1.3 * x + t[:, None, None, None]).astype(np.float32)


# --- the loop plan the GPU backends capture ------------------------------------------------------------

@pytest.mark.parametrize("sampler", sampling.SAMPLERS)
@pytest.mark.parametrize("eps_schedule", sampling.EPS_SCHEDULES)
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_the_plan_reproduces_sampling_run_bit_for_bit(sampler, eps_schedule, eps):
    y = np.random.default_rng(1).uniform(-1, 1, (2, 3, 8, 6)).astype(np.float32)
    for steps in (1, 3, 4):
        reference = sampling.run(toy_model, y, steps, sampler=sampler, eps=eps, eps_schedule=eps_schedule,
                                 rng=np.random.default_rng(5), update=ops.update)
        plan = device_loop.plan_loop(steps, sampler, eps, eps_schedule)
        noise = device_loop.draw_noise(y, np.random.default_rng(5), plan.draws)
        x, anchor = np.empty_like(y), (np.empty_like(y) if plan.needs_anchor else None)
        out = device_loop.run_plan(plan, lambda v, step: toy_model(v, np.full(len(v), step.t, np.float32)),
                                   ops.update, y, x, anchor, noise.__getitem__)
        assert out is x
        np.testing.assert_array_equal(out, reference)


def test_the_plan_counts_the_draws_the_loop_makes():
    class CountingRng:
        calls = 0

        def __call__(self, x):
            self.calls += 1
            return np.zeros_like(x)

    y = np.zeros((1, 3, 4, 4), np.float32)
    for sampler in sampling.SAMPLERS:
        for schedule in sampling.EPS_SCHEDULES:
            for eps, steps in ((0.0, 3), (0.2, 1), (0.2, 5)):
                rng = CountingRng()
                sampling.run(toy_model, y, steps, sampler=sampler, eps=eps, eps_schedule=schedule, rng=rng)
                plan = device_loop.plan_loop(steps, sampler, eps, schedule)
                assert plan.draws == rng.calls, (sampler, schedule, eps, steps)
                assert [s.draw for s in plan.steps if s.draw >= 0] == list(range(plan.draws - len(
                    [s for s in plan.steps if s.draw >= 0]), plan.draws))


def test_the_plan_validates_its_arguments():
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        device_loop.plan_loop(0, "indi", 0.0, "constant")
    with pytest.raises(ValueError, match="sampler must be one of"):
        device_loop.plan_loop(2, "ddim", 0.0, "constant")
    with pytest.raises(ValueError, match="eps must be a finite number"):
        device_loop.plan_loop(2, "indi", float("nan"), "constant")
    with pytest.raises(ValueError, match="eps_schedule must be one of"):
        device_loop.plan_loop(2, "indi", 0.1, "linear")
    plan = device_loop.plan_loop(2, "cold", 0.0, "constant")
    with pytest.raises(ValueError, match="needs an anchor buffer"):
        device_loop.run_plan(plan, None, ops.update, np.zeros((1, 3, 2, 2), np.float32),
                             np.zeros((1, 3, 2, 2), np.float32), None, None)


# --- the NaN/Inf output check ------------------------------------------------------------------------------

def test_the_output_check_names_the_frames_of_a_batch_that_failed():
    batch = np.zeros((3, 3, 2, 2), np.float32)
    batch[1, 0, 0, 0] = np.nan
    with pytest.raises(RuntimeError, match=r"1 NaN and 0 Inf values in its output of 36 \(frames \[1\] of 3\)"):
        device_loop.check_finite(batch, "engine", "use fp32")


def test_the_output_check_names_fp16_overflow_and_the_fp32_remedy():
    fine = np.zeros((1, 3, 4, 4), np.float16)
    assert device_loop.check_finite(fine, "engine", "use fp32") is fine
    bad = fine.copy()
    bad[0, 0, 0, :2] = np.nan
    bad[0, 1, 1, 1] = np.inf
    bad[0, 2, 2, 2] = -np.inf
    with pytest.raises(RuntimeError, match=r"engine m.engine \(fp16\) produced 2 NaN and 2 Inf values in its "
                                           r"output of 48.*fp16 overflow.*65504.*Remedy: rebuild .*--precision fp32"):
        from indi_edge.backends.tensorrt import FP32_REMEDY

        device_loop.check_finite(bad, "TensorRT engine m.engine (fp16)", FP32_REMEDY)


# --- cuda-python helpers ------------------------------------------------------------------------------------

def test_cuda_error_messages_say_what_to_do_without_a_gpu():
    text = cuda_runtime.error_message("cudaErrorNoDevice", "no CUDA-capable device is detected", "cudaMalloc(16)")
    assert text.startswith("cudaMalloc(16) failed: cudaErrorNoDevice") and "restore with the .onnx model" in text
    other = cuda_runtime.error_message("cudaErrorInvalidValue", "invalid argument", "cudaMemcpyAsync")
    assert "invalid argument" in other and ".onnx" not in other


@pytest.mark.skipif(not HAS_CUDA_PYTHON, reason="cuda-python is not installed")
def test_checked_calls_unwrap_values_and_raise_on_errors():
    from cuda.bindings import runtime as cudart

    ok = cudart.cudaError_t.cudaSuccess
    assert cuda_runtime.check((ok, 7)) == 7
    assert cuda_runtime.check((ok, 1, 2)) == (1, 2)
    assert cuda_runtime.check((ok,)) is None
    with pytest.raises(RuntimeError, match=r"cudaGetDeviceCount failed: cudaErrorNoDevice.*no usable CUDA GPU"):
        cuda_runtime.check((cudart.cudaError_t.cudaErrorNoDevice, None), "cudaGetDeviceCount")
    with pytest.raises(RuntimeError, match=r"cudaGetDeviceCount failed: cudaErrorInsufficientDriver.*driver is too "
                                           r"old for cuda-bindings"):
        cuda_runtime.check((cudart.cudaError_t.cudaErrorInsufficientDriver, None), "cudaGetDeviceCount")


@pytest.mark.skipif(not HAS_CUDA_PYTHON or cuda_runtime.device_count() > 0, reason="needs cuda-python and no GPU")
def test_without_a_gpu_device_memory_fails_clearly():
    assert cuda_runtime.device_count() == 0
    with pytest.raises(RuntimeError, match=r"cudaMalloc\(64\) failed.*no usable CUDA GPU is visible"):
        cuda_runtime.DeviceBuffer(64)
    with pytest.raises(RuntimeError, match="no usable CUDA GPU"):
        cuda_runtime.device_info()
    with pytest.raises(ValueError, match="nbytes > 0"):
        cuda_runtime.DeviceBuffer(0)


# --- ONNX Runtime GPU options -----------------------------------------------------------------------------

def test_gpu_provider_options():
    name, options = cuda_provider(1, cuda_graph=True, mem_limit_mb=512)
    assert name == "CUDAExecutionProvider"
    assert options == {"device_id": "1", "cudnn_conv_algo_search": "EXHAUSTIVE", "enable_cuda_graph": "1",
                       "gpu_mem_limit": str(512 << 20)}
    profile = Profile((1, 3, 256, 256), (1, 3, 720, 1280), (2, 3, 1088, 1920))
    name, trt = tensorrt_provider("/cache", fp16=True, cuda_graph=True, workspace_mb=1024, profile=profile)
    assert name == "TensorrtExecutionProvider"
    assert trt["trt_fp16_enable"] == "1" and trt["trt_cuda_graph_enable"] == "1"
    assert trt["trt_engine_cache_enable"] == "1" and trt["trt_engine_cache_path"] == "/cache"
    assert trt["trt_timing_cache_enable"] == "1" and trt["trt_max_workspace_size"] == str(1 << 30)
    assert trt["trt_profile_min_shapes"] == "x:1x3x256x256,t:1"
    assert trt["trt_profile_max_shapes"] == "x:2x3x1088x1920,t:2"
    assert tensorrt_provider("/c", fp16=False)[1]["trt_fp16_enable"] == "0"
    chain = gpu_providers("/cache", cuda_graph=True)
    assert [p if isinstance(p, str) else p[0] for p in chain] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert "enable_cuda_graph" not in chain[1][1]  # the graph belongs to TensorRT's EP there
    assert gpu_providers(cuda_graph=True)[0][1]["enable_cuda_graph"] == "1"


def test_asking_for_gpu_providers_without_a_gpu_warns_and_runs_on_cpu(tiny_onnx):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers() and cuda_runtime.device_count() > 0:
        pytest.skip("a GPU build of ONNX Runtime with a GPU: nothing falls back")
    with pytest.warns(RuntimeWarning, match="could not use"):
        backend = open_onnx(tiny_onnx, providers=gpu_providers(cuda_graph=True), threads=1)
    assert backend.providers == ["CPUExecutionProvider"]
    assert graph_device(backend.session) is None and backend.bind_device is None


def test_io_binding_gives_the_same_result_and_never_aliases_the_callers_arrays(tiny_onnx):
    plain = open_onnx(tiny_onnx, providers=["CPUExecutionProvider"], threads=1)
    bound = OnnxBackend(plain.session, plain.path, plain.info, bind_device=("cpu", 0))
    rng = np.random.default_rng(0)
    t = np.ones(2, np.float32)
    for shape in ((2, 3, 16, 24), (2, 3, 16, 24), (2, 3, 32, 16)):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        keep = x.copy()
        first = bound(x, t)
        np.testing.assert_array_equal(first, plain(x, t))
        np.testing.assert_array_equal(x, keep)
        bound(-x, t)  # the next run must not change what the first returned
        np.testing.assert_array_equal(first, plain(x, t))
    assert len(bound.bound) == 2  # one binding (and one CUDA graph id) per shape


def test_cuda_graphs_need_onnxruntime_1_18(tiny_onnx, monkeypatch):
    import onnxruntime as ort

    plain = open_onnx(tiny_onnx, providers=["CPUExecutionProvider"], threads=1)
    monkeypatch.setattr(ort, "__version__", "1.17.3")
    with pytest.raises(RuntimeError, match=r"gpu_graph_id\) need onnxruntime-gpu >= 1.18; this is 1.17.3"):
        OnnxBackend(plain.session, plain.path, plain.info, bind_device=("cuda", 0))
    OnnxBackend(plain.session, plain.path, plain.info, bind_device=("cpu", 0))  # no graph on the CPU: no need
    monkeypatch.setattr(ort, "__version__", "1.18.0")
    OnnxBackend(plain.session, plain.path, plain.info, bind_device=("cuda", 0))  # buffers come on first use


def test_io_binding_checks_every_run_for_nan(tiny_onnx):
    plain = open_onnx(tiny_onnx, providers=["CPUExecutionProvider"], threads=1)
    bound = OnnxBackend(plain.session, plain.path, plain.info, bind_device=("cpu", 0))
    x = np.zeros((2, 3, 16, 16), np.float32)
    bound(x, np.ones(2, np.float32))
    x[1, :, 3, 3] = np.nan  # propagates through the network, as an fp16 overflow would
    with pytest.raises(RuntimeError, match=r"IO binding\) tiny.onnx produced \d+ NaN.*frames \[1\] of 2.*fp32 .onnx"):
        bound(x, np.ones(2, np.float32))


# --- the torch backend's loop, on the CPU device ---------------------------------------------------------------

@pytest.mark.parametrize("channels_last", [False, True])
def test_torch_backend_loop_equals_sampling_run_on_cpu(tiny_unet, tiny_info, channels_last):
    from indi_edge.backends.torch_cuda import TorchCudaBackend

    backend = TorchCudaBackend(tiny_unet, tiny_info, precision="fp32", channels_last=channels_last,
                               cuda_graph=False, fused_update=False, device="cpu")
    y = np.random.default_rng(0).uniform(-1, 1, (2, 3, 16, 12)).astype(np.float32)
    for sampler in sampling.SAMPLERS:
        kwargs = dict(sampler=sampler, eps=0.1, eps_schedule="brownian")
        got = backend.restore(y, 3, **kwargs, rng=np.random.default_rng(3))
        want = sampling.run(backend, y, 3, **kwargs, rng=np.random.default_rng(3))
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert len(backend.loops) == 3  # one static loop per (shape, plan)


def test_torch_backend_in_a_restorer_matches_onnx_runtime(tiny_unet, tiny_info, tiny_onnx, bgr_frame):
    import torch

    from indi_edge.backends.torch_cuda import TorchCudaBackend

    backend = TorchCudaBackend(tiny_unet, tiny_info, precision="fp32", cuda_graph=False, fused_update=False,
                               device="cpu")
    via_torch = Restorer(backend, tile=0).run(bgr_frame)
    via_onnx = Restorer(tiny_onnx, threads=1, tile=0).run(bgr_frame)
    assert np.abs(via_torch.astype(int) - via_onnx).max() <= 1
    half = TorchCudaBackend(tiny_unet, tiny_info, precision="fp16", cuda_graph=False, fused_update=False,
                            device="cpu")
    assert np.abs(Restorer(half, tile=0).run(bgr_frame).astype(int) - via_onnx).max() <= 3
    # the backend converted a copy: the caller's (session-shared) module is still fp32
    assert {p.dtype for p in tiny_unet.parameters()} == {torch.float32}


TF32_SEEN = []  # (matmul, cudnn) allow_tf32 while the network ran: module-level, so deepcopy keeps it shared


def test_fp32_torch_backend_runs_with_tf32_off_and_puts_the_flags_back(tiny_unet, tiny_info):
    import torch

    from indi_edge.backends.torch_cuda import TorchCudaBackend

    class Recording(torch.nn.Module):
        multiple = tiny_unet.multiple

        def __init__(self):
            super().__init__()
            self.net = tiny_unet

        def forward(self, x, t):
            TF32_SEEN.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
            return self.net(x, t)

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True  # torch's default: cuDNN convolutions in TF32
    try:
        backend = TorchCudaBackend(Recording(), tiny_info, precision="fp32", cuda_graph=False, fused_update=False,
                                   device="cpu")
        y = np.zeros((1, 3, 8, 8), np.float32)
        TF32_SEEN.clear()
        backend.restore(y, 2, sampler="indi", eps=0.0, eps_schedule="constant", rng=None)
        backend(y, np.ones(1, np.float32))
        assert TF32_SEEN == [(False, False)] * 3
        assert torch.backends.cudnn.allow_tf32 is True  # put back
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_torch_backend_refuses_cuda_options_without_cuda(tiny_unet, tiny_info, tmp_path):
    from indi_edge.backends.torch_cuda import TorchCudaBackend

    with pytest.raises(ValueError, match="cuda_graph=False and fused_update=False"):
        TorchCudaBackend(tiny_unet, tiny_info, device="cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        TorchCudaBackend(tiny_unet, tiny_info, precision="int8", device="cpu")
    with pytest.raises(FileNotFoundError, match="no model file"):
        TorchCudaBackend(tmp_path / "missing.safetensors", cuda_graph=False, fused_update=False, device="cpu")
    if not torch_sees_a_gpu():
        with pytest.raises(RuntimeError, match=r"sees no CUDA GPU.*\.onnx"):
            TorchCudaBackend(tiny_unet, tiny_info)


def test_gpu_modules_import_without_torch_tensorrt_or_cuda():
    code = textwrap.dedent("""
        import sys
        import indi_edge.backends.tensorrt, indi_edge.backends.torch_cuda, indi_edge.tensorrt, indi_edge.cuda_runtime
        import indi_edge.commands.build_engine
        print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "indi_edge" in loaded and not loaded & {"torch", "tensorrt", "cuda", "onnxruntime"}


# --- the GPU benchmark skips cleanly ------------------------------------------------------------------------------

def test_gpu_latency_benchmark_skips_cleanly_without_a_gpu(tmp_path):
    if torch_sees_a_gpu():
        pytest.skip("a GPU is visible: the benchmark would run (device_check.sh runs it)")
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_latency.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stdout
    assert "no CUDA GPU" in json.loads(out.read_text())["skipped"]


# --- on a real GPU (skipped where torch sees none) -------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("torch") is None or not torch_sees_a_gpu() or not ops.cuda_available(),
                    reason="needs torch with a CUDA GPU and indi_edge._core built with CUDA")
def test_torch_cuda_backend_on_a_gpu(tiny_unet, tiny_info, bgr_frame):
    import copy

    from indi_edge.backends.torch_cuda import TorchCudaBackend

    cpu = TorchCudaBackend(copy.deepcopy(tiny_unet), tiny_info, precision="fp32", channels_last=False,
                           cuda_graph=False, fused_update=False, device="cpu")
    y = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 48)).astype(np.float32)
    kwargs = dict(sampler="indi", eps=0.1, eps_schedule="brownian")
    want = cpu.restore(y, 4, **kwargs, rng=np.random.default_rng(2))
    eager = TorchCudaBackend(copy.deepcopy(tiny_unet), tiny_info, precision="fp32", channels_last=False, cuda_graph=False)
    graph = TorchCudaBackend(copy.deepcopy(tiny_unet), tiny_info, precision="fp32", channels_last=False, cuda_graph=True)
    half = TorchCudaBackend(copy.deepcopy(tiny_unet), tiny_info, precision="fp16", channels_last=True, cuda_graph=True)
    got_eager = eager.restore(y, 4, **kwargs, rng=np.random.default_rng(2))
    got_graph = [graph.restore(y, 4, **kwargs, rng=np.random.default_rng(2)) for _ in range(2)]  # capture, replay
    np.testing.assert_allclose(got_eager, want, atol=1e-4)  # fp32 with TF32 off: cuDNN vs CPU summation order only
    np.testing.assert_array_equal(got_graph[0], got_eager)
    np.testing.assert_array_equal(got_graph[1], got_eager)
    np.testing.assert_allclose(half.restore(y, 4, **kwargs, rng=np.random.default_rng(2)), want, atol=2e-2)  # fp16
    frames = Restorer(graph, tile=0).run_batch([bgr_frame, bgr_frame[::-1].copy()])
    reference = Restorer(cpu, tile=0).run_batch([bgr_frame, bgr_frame[::-1].copy()])
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(frames, reference))
