"""torch -> AOTInductor package (.pt2) for the torch runtime: compiled ahead of time, dynamic N/H/W.

The model facts (ModelInfo) ride in the package's AOTInductor metadata, read back at load time
by indi_edge.backends.pt2. bf16=True compiles the network in bfloat16 behind float32 IO: on CPUs
with AMX-BF16 / AVX512-BF16 oneDNN runs its convolutions at several times the fp32 rate
(benchmarks/README.md has the speed-up and the PSNR cost).
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch.export import Dim

from indi_edge.atomic import partial_path
from indi_edge.export.onnx_export import example_inputs, judge
from indi_edge.export.validate import validate
from indi_edge.model_info import ModelInfo


class Bfloat16Network(torch.nn.Module):
    """forward(x float32, t float32) -> x0 float32, with the network's weights and activations in
    bfloat16 (the t embedding is computed in fp32 by the network itself)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = copy.deepcopy(model).to(torch.bfloat16)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(torch.bfloat16), t).float()


def export_pt2(model: torch.nn.Module, path: str | Path, info: ModelInfo, *, bf16: bool = False,
               check: bool = True) -> Path:
    """Compile `model` for this machine's CPU into `path` (~30-50 s), validate it, move it into place.

    bf16: compute in bfloat16 (IO stays float32); validated like an fp16 export (PSNR against fp32)."""
    path = Path(path)
    info = info.replace(multiple=model.multiple, unrolled_steps=0).validate(f"the export to {path}")
    m = info.multiple
    n, h, w = Dim("n"), Dim("h"), Dim("w")
    x, t = example_inputs(m)  # batch 2: with 1, torch.export specialises N = 1
    network = Bfloat16Network(model).eval() if bf16 else model.eval()
    with torch.no_grad():
        program = torch.export.export(network, (x, t),
                                      dynamic_shapes={"x": {0: n, 2: m * h, 3: m * w}, "t": {0: n}})
    meta = {**info.to_metadata(), "indi_edge.precision": "bf16" if bf16 else "fp32"}
    # Freezing lets oneDNN pre-pack the bf16 weights (~8% faster here); no change measured in fp32.
    configs = {"aot_inductor.metadata": meta, **({"freezing": True} if bf16 else {})}
    tmp = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch._inductor.aoti_compile_and_package(program, package_path=str(tmp), inductor_configs=configs)
        if check:
            result = validate(tmp, model, info, label=path.name)
            judge(result, result if bf16 else None)  # bf16: judged on PSNR, like reduced-precision ONNX
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
