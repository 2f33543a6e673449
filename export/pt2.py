"""torch -> AOTInductor package (.pt2) for the torch runtime: compiled ahead of time, dynamic N/H/W.

The model facts (ModelInfo) ride in the package's AOTInductor metadata, read back at load time
by indi_edge.backends.pt2.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.export import Dim

from indi_edge.export.onnx_export import example_inputs, judge, partial_path
from indi_edge.export.validate import validate
from indi_edge.model_info import ModelInfo


def export_pt2(model: torch.nn.Module, path: str | Path, info: ModelInfo, *, check: bool = True) -> Path:
    """Compile `model` for this machine's CPU into `path` (~30-50 s), validate it, move it into place."""
    path = Path(path)
    info = info.replace(multiple=model.multiple, unrolled_steps=0)
    m = info.multiple
    n, h, w = Dim("n"), Dim("h"), Dim("w")
    x, t = example_inputs(m)  # batch 2: with 1, torch.export specialises N = 1
    with torch.no_grad():
        program = torch.export.export(model.eval(), (x, t),
                                      dynamic_shapes={"x": {0: n, 2: m * h, 3: m * w}, "t": {0: n}})
    tmp = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch._inductor.aoti_compile_and_package(
            program, package_path=str(tmp),
            inductor_configs={"aot_inductor.metadata": info.to_metadata()})
        if check:
            judge(validate(tmp, model, info, label=path.name))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
