"""torch CPU backend: the U-Net as a torch module on the CPU, in bfloat16 (or fp32), channels-last.

    backend = TorchCpuBackend("motion-deblur.safetensors")    # bf16 by default
    restorer = Restorer(backend)

On CPUs with AMX-BF16 / AVX512-BF16, oneDNN runs the bf16 channels-last convolutions several times
faster than fp32 (benchmarks/README.md: the fastest CPU path measured here, ~0.001 dB from fp32 on the
held-out images). The InDI loop and its update stay in fp32 numpy (StepLoop); only F runs in bf16.
Needs torch (imported when a backend is made, never by `import indi_edge`).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from indi_edge.backends import StepLoop, check_batch
from indi_edge.cpu_features import bf16_skip_reason
from indi_edge.model_info import ModelInfo

PRECISIONS = ("bf16", "fp32")


class TorchCpuBackend(StepLoop):
    """F(x, t) -> x0 with a UNet (or a .safetensors file from indi_edge.training.nn.save) on the CPU.

    precision: "bf16" (weights and activations; t's embedding is computed in fp32 by the network)
    or "fp32". channels_last: NHWC memory format, which oneDNN's fast convolutions want."""

    def __init__(self, model, info: ModelInfo | None = None, *, precision: str = "bf16", channels_last: bool = True):
        import torch

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "bf16" and bf16_skip_reason():
            raise ValueError(f"precision 'bf16' refused: {bf16_skip_reason()}; use precision='fp32'")
        if isinstance(model, (str, Path)):
            from indi_edge.training import nn

            path = Path(model)
            if path.suffix != ".safetensors":
                raise ValueError(f"TorchCpuBackend loads .safetensors weights (indi_edge.training.nn.save); got {path.name}")
            network = nn.load(path)
            info = info or ModelInfo.from_metadata(nn.read_metadata(path), str(path))
        elif isinstance(model, torch.nn.Module):
            network, info = copy.deepcopy(model), info or ModelInfo()  # the caller's module stays fp32
        else:
            raise TypeError(f"model must be a .safetensors path or a torch UNet, got {type(model).__name__}")
        self._torch = torch
        self._source = model  # a path, or the caller's fp32 module: what fp32_twin() rebuilds from
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self.network = network.to(dtype=self.dtype, memory_format=self.layout).eval()
        self.multiple = int(network.multiple)
        self.info = info.replace(multiple=self.multiple)
        self.precision = precision
        self.providers = [f"torch-cpu-{precision}{'-channels-last' if channels_last else ''}"]

    def fp32_twin(self) -> "TorchCpuBackend | None":
        """The same network in fp32, for frames whose bf16 output overflowed (Restorer fp16_fallback)."""
        if self.precision == "fp32":
            return None
        return TorchCpuBackend(self._source, self.info, precision="fp32", channels_last=self.layout == self._torch.channels_last)

    def close(self) -> None:
        self.network = None

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        torch = self._torch
        with torch.inference_mode():
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.dtype)
            x0 = self.network(xt.contiguous(memory_format=self.layout), torch.from_numpy(np.asarray(t, np.float32)))
            return x0.float().contiguous().numpy()
