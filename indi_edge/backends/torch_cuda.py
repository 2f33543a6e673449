"""torch CUDA backend: the U-Net on a GPU in fp16 (or fp32), channels-last, with the fused update
kernel of indi_edge._core on torch's current stream and the whole N-step loop replayed as one CUDA
graph per (shape, loop). The GPU path this project can run without TensorRT.

    backend = TorchCudaBackend("motion-deblur.safetensors")   # or a UNet, or a .pt2 compiled for CUDA
    restorer = Restorer(backend)                               # frames in, frames out, as always

Needs torch with CUDA and a GPU (imported when a backend is made, never by `import indi_edge`).
device="cpu" (with cuda_graph=False, fused_update=False) runs the same loop without CUDA: the tests
use it on machines without a GPU.
"""
from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import numpy as np

from indi_edge import ops, sampling
from indi_edge.backends import check_batch
from indi_edge.backends.device_loop import LoopPlan, check_finite, draw_noise, plan_loop, run_plan
from indi_edge.model_info import ModelInfo

PRECISIONS = ("fp16", "fp32")
FP32_REMEDY = "use TorchCudaBackend(..., precision='fp32')"


def require_torch_cuda():
    """torch, when it sees a CUDA GPU; RuntimeError saying what is missing otherwise."""
    import torch

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise RuntimeError(f"torch {torch.__version__} ({build}) sees no CUDA GPU; the torch CUDA backend needs an "
                           f"NVIDIA GPU and a CUDA build of torch. Without one, restore with the .onnx model")
    return torch


@contextlib.contextmanager
def no_tf32(torch):
    """fp32 really in fp32 while the block runs: cuDNN convolutions use TF32 (10-bit mantissa) by
    default, and matmul may be switched to it; both are put back afterwards (process-wide flags)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def load_network(source, info: ModelInfo | None, device, trust: bool = False):
    """(callable F(x, t), ModelInfo, is_module) from a UNet, a .safetensors file or a CUDA .pt2 package."""
    import torch

    if isinstance(source, torch.nn.Module):
        info = info or ModelInfo(multiple=int(getattr(source, "multiple", 1)))
        # a copy: Module.to() works in place, and the caller's module must stay on its device and in fp32
        return copy.deepcopy(source).to(device).eval(), info, True
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".safetensors":
        from indi_edge.training import nn

        model = nn.load(path, device=device)
        meta_info = ModelInfo.from_metadata(nn.read_metadata(path), str(path)).replace(multiple=model.multiple)
        return model, info or meta_info, True
    if path.suffix == ".pt2":
        from torch._inductor import aoti_load_package

        from indi_edge.backends.pt2 import require_trust

        require_trust(path, trust)

        runner = aoti_load_package(str(path))
        meta = runner.get_metadata()
        if meta.get("AOTI_DEVICE_KEY", "cpu") != "cuda":
            raise ValueError(f"{path.name} is compiled for {meta.get('AOTI_DEVICE_KEY', 'cpu')}; the torch CUDA backend "
                             f"needs a package compiled for CUDA (run the export on the GPU machine)")
        return runner, info or ModelInfo.from_metadata(meta, str(path)), False
    raise ValueError(f"{path}: expected a UNet, a .safetensors weights file or a .pt2 package compiled for CUDA")


class TorchCudaBackend:
    """F(x, t) -> x0 and the InDI loop on a CUDA GPU through torch.

    precision: "fp16": weights, activations, the loop state and the time MLP in half; only t and
        its sinusoidal embedding (sin/cos of 1000 t) are computed in fp32, then cast to fp16 before
        the time MLP. "fp32": everything in fp32 with TF32 off (cuDNN and matmul), so it is a true
        fp32 baseline. A .pt2 package runs in the precision it was compiled in: pass that.
    channels_last: NHWC memory layout for the convolutions (tensor cores prefer it).
    cuda_graph: capture each (shape, loop) once after a warm-up and replay it.
    fused_update: the fused kernel of indi_edge._core (False: torch's separate elementwise ops).
    check_output: NaN/Inf check of the outputs that come back to the host.
    trust: needed (True) for a .pt2 package, whose loading runs code from the file.
    """

    def __init__(self, model, info: ModelInfo | None = None, *, precision: str = "fp16", channels_last: bool = True,
                 cuda_graph: bool = True, fused_update: bool = True, check_output: bool = True, device: str = "cuda",
                 trust: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        import torch

        if torch.device(device).type == "cuda":
            require_torch_cuda()
        elif cuda_graph or fused_update:  # another device runs the same loop, without the CUDA parts
            raise ValueError(f"on device {device!r} pass cuda_graph=False and fused_update=False (they need CUDA)")
        if fused_update and not ops.cuda_available():
            build = ops.build_info() or ops.NATIVE_IMPORT_ERROR
            raise RuntimeError(f"fused_update needs indi_edge._core built with CUDA (build: {build}); reinstall "
                               f"with nvcc on PATH, or pass fused_update=False")
        self.torch = torch
        self.device = torch.device(device)
        net, self.info, is_module = load_network(model, info, self.device, trust=trust)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.format = torch.channels_last if channels_last and is_module else torch.contiguous_format
        if is_module:
            net = net.to(dtype=self.dtype, memory_format=self.format)
        self.net = net
        self.multiple = self.info.multiple
        self.precision, self.cuda_graph, self.fused_update = precision, cuda_graph, fused_update
        self.check_output = check_output
        self.providers = [f"torch-{self.device.type} {precision}{' channels-last' if self.format is torch.channels_last else ''}"
                          f"{' cuda-graph' if cuda_graph else ''} on {self._device_name()}"]
        self.loops: dict[tuple, _Loop] = {}

    # --- the Backend protocol ---------------------------------------------------------------

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        torch = self.torch
        with torch.inference_mode(), self._precision():
            x0 = self.net(self._to_device(x), torch.from_numpy(np.ascontiguousarray(t, np.float32)).to(self.device))
            return self._to_host(x0)

    def restore(self, y: np.ndarray, steps: int, *, sampler: str, eps: float, eps_schedule: str,
                rng) -> np.ndarray:
        """y [N, 3, H, W] float32 in [-1, 1] -> x_0 float32: upload, the loop on the GPU, download."""
        check_batch(y, np.zeros(y.shape[0], np.float32), self.multiple)
        plan = plan_loop(steps, sampler, eps, eps_schedule)
        noise = draw_noise(y, rng, plan.draws)
        with self.torch.inference_mode():
            x = self.restore_tensor(self._to_device(y), plan, [self._to_device(z) for z in noise])
            return self._to_host(x)

    # --- on device tensors (no host trips; what benchmarks time) --------------------------------

    def restore_tensor(self, y, plan: LoopPlan, noise=()):
        """y: a CUDA tensor [N, 3, H, W] of this backend's dtype -> x_0, a tensor that the next call
        overwrites (clone it to keep it). noise: plan.draws tensors like y."""
        if len(noise) != plan.draws:
            raise ValueError(f"this loop draws noise {plan.draws} times; got {len(noise)} noise tensors")
        with self.torch.inference_mode(), self._precision():  # static buffers: inference tensors, in place
            loop = self._loop(tuple(y.shape), plan)
            loop.y.copy_(y)
            for static, z in zip(loop.noise, noise):
                static.copy_(z)
            if loop.graph is not None:
                loop.graph.replay()
            else:
                loop.run()
            return loop.x

    # --- internals ----------------------------------------------------------------------------

    def _precision(self):
        """TF32 off while an fp32 network runs (and is captured); nothing to do for fp16."""
        return no_tf32(self.torch) if self.dtype == self.torch.float32 else contextlib.nullcontext()

    def _device_name(self) -> str:
        return self.torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else str(self.device)

    def _loop(self, shape: tuple, plan: LoopPlan) -> "_Loop":
        key = (shape, plan)
        if key not in self.loops:
            loop = _Loop(self, shape, plan)
            if self.cuda_graph:
                loop.capture()
            self.loops[key] = loop
        return self.loops[key]

    def _to_device(self, a: np.ndarray):
        host = self.torch.from_numpy(np.ascontiguousarray(a, np.float32))
        if self.device.type == "cuda":
            host = host.pin_memory()  # asynchronous copy
        return host.to(self.device, non_blocking=True).to(dtype=self.dtype, memory_format=self.format)

    def _to_host(self, x) -> np.ndarray:
        out = x.float().contiguous().cpu().numpy()
        if self.check_output:
            check_finite(out, f"the torch CUDA backend ({self.precision})", FP32_REMEDY)
        return out

    def update(self, sampler, x, x0, y, t, d, noise_std=0.0, z=None, out=None):
        """indi_edge.ops.update's signature on CUDA tensors of one layout, on torch's current stream."""
        if not self.fused_update:
            return out.copy_(sampling.apply_step(sampler, x, x0, y, t, d, noise_std, z))
        stream = self.torch.cuda.current_stream(self.device).cuda_stream
        dtype = "float16" if self.dtype == self.torch.float16 else "float32"
        ops.cuda_update(sampler, x.data_ptr(), x0.data_ptr(), 0 if y is None else y.data_ptr(),
                        0 if z is None else z.data_ptr(), out.data_ptr(), x.numel(), dtype, t, d, noise_std, stream)
        return out


class _Loop:
    """Static tensors of one (shape, plan) and, once captured, its CUDA graph."""

    def __init__(self, backend: TorchCudaBackend, shape: tuple, plan: LoopPlan):
        torch = backend.torch
        self.backend, self.plan = backend, plan

        def buffer():
            return torch.zeros(shape, device=backend.device, dtype=backend.dtype).contiguous(memory_format=backend.format)

        self.y, self.x = buffer(), buffer()
        self.anchor = buffer() if plan.needs_anchor else None
        self.noise = [buffer() for _ in range(plan.draws)]
        self.t = torch.tensor([[s.t] * shape[0] for s in plan.steps], device=backend.device, dtype=torch.float32)
        self.graph = None

    def model(self, x, step):
        x0 = self.backend.net(x, self.t[step.index])
        return x0.contiguous(memory_format=self.backend.format)  # the fused update needs x's layout

    def run(self) -> None:
        run_plan(self.plan, self.model, self.backend.update, self.y, self.x, self.anchor, self.noise.__getitem__)

    def capture(self) -> None:
        """Warm up on a side stream (cuDNN picks its algorithms), then capture one run."""
        torch = self.backend.torch
        side = torch.cuda.Stream(self.backend.device)
        side.wait_stream(torch.cuda.current_stream(self.backend.device))
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(2):
                self.run()
        torch.cuda.current_stream(self.backend.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.run()
