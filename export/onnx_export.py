"""torch -> ONNX through the dynamo exporter: the one exporter (the bundled models use it too).

Graph IO: x [N, 3, H, W] float32 and t [N] float32 -> x0, with H and W declared as
multiple * Dim so the size constraint is named in the graph (e.g. '8*h'); or, unrolled, the
whole loop: x (+ noise [K, N, 3, H, W]) -> x0. The model facts (ModelInfo) go in metadata_props.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import onnx
import torch
from torch.export import Dim

from indi_edge.atomic import partial_path
from indi_edge.export import fp16 as fp16_convert
from indi_edge.export.unroll import UnrolledInDI
from indi_edge.export.validate import BROKEN_PSNR, FP16_MIN_PSNR, FP32_MAX_ABS, Validation, half_precision, validate
from indi_edge.model_info import ModelInfo

OPSET = 18  # the dynamo exporter's floor (asking for less silently gives 18)




def example_inputs(multiple: int, batch: int = 2, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Example (x, t) for tracing: batch >= 2 so torch.export keeps N dynamic."""
    s = size or multiple * max(2, 32 // multiple)
    return torch.rand(batch, 3, s, s) * 2 - 1, torch.linspace(1.0, 0.5, batch)


def trace_onnx(model: torch.nn.Module, info: ModelInfo, unroll: int) -> onnx.ModelProto:
    """The fp32 graph as an ONNX ModelProto (no metadata yet)."""
    m = info.multiple
    n, h, w = Dim("n"), Dim("h"), Dim("w")
    image = {0: n, 2: m * h, 3: m * w}
    x, t = example_inputs(m)
    if unroll > 0:
        module = UnrolledInDI(model, unroll, info.sampler, info.eps, info.eps_schedule).eval()
        args: tuple = (x,) if module.draws == 0 else (x, torch.randn(module.draws, *x.shape))
        names = ["x"] if module.draws == 0 else ["x", "noise"]
        shapes: dict = {"x": image} if module.draws == 0 else {"x": image, "noise": {1: n, 3: m * h, 4: m * w}}
    else:
        module, args, names, shapes = model.eval(), (x, t), ["x", "t"], {"x": image, "t": {0: n}}
    with torch.no_grad():
        program = torch.onnx.export(module, args, dynamo=True, input_names=names, output_names=["x0"],
                                    dynamic_shapes=shapes, opset_version=OPSET, external_data=False,
                                    verbose=False)
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]  # tracing notes with local source paths: not for shipped models
    return proto


def export_onnx(model: torch.nn.Module, path: str | Path, info: ModelInfo, *, fp16: bool = False,
                fp16_io: bool = False, unroll: int = 0, check: bool = True) -> Path:
    """Export `model` (an indi_edge.training.nn.UNet) to one ONNX file at `path`, validate it against torch
    on a real image and only then move it into place. Returns the path.

    fp16: FP16 weights and compute, fp32 IO (fp16_io: fp16 image IO, for TensorRT 11).
    unroll: > 0 bakes the whole `unroll`-step loop (info's sampler/eps/schedule) into the graph.
    Raises RuntimeError when the artifact disagrees with torch; warns when fp16 is below 40 dB.
    """
    if fp16_io and not fp16:
        raise ValueError("fp16_io needs fp16=True (fp16 IO on an fp32 graph would only lose precision)")
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 0:
        raise ValueError(f"unroll must be an integer >= 0 (steps), got {unroll!r}")
    path = Path(path)
    info = info.replace(multiple=model.multiple, unrolled_steps=unroll, **({"steps": unroll} if unroll else {}))
    info.validate(f"the export to {path}")  # never write facts a Restorer would refuse
    proto = trace_onnx(model, info, unroll)
    if fp16:
        proto = fp16_convert.to_fp16(proto, fp16_io=fp16_io)
    meta = {**info.to_metadata(), "indi_edge.precision": "fp16" if fp16 else "fp32",
            "indi_edge.io_precision": "fp16" if fp16_io else "fp32"}
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name, proto.doc_string = "indi_edge.export", "InDI restoration network: x, t -> x0"
    tmp = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        onnx.save_model(proto, str(tmp))
        if check:
            judge(validate(tmp, model, info, label=path.name),
                  half_precision(model, info) if fp16 else None)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def judge(result: Validation, fp16: Validation | None = None) -> Validation:
    """Print the validation; fail (RuntimeError) when the artifact disagrees with torch, warn loudly
    when fp16 (the artifact, or the network computed in fp16) is below FP16_MIN_PSNR from fp32.

    result: the artifact against torch fp32; fp16: half_precision() for fp16 exports, else None.
    """
    print(result.summary())
    if fp16 is not None:
        print(fp16.summary())
    if result.psnr < BROKEN_PSNR or (fp16 is None and result.max_abs > FP32_MAX_ABS):
        raise RuntimeError(f"export validation failed: {result.summary()} "
                           f"(expected max |diff| <= {FP32_MAX_ABS:g} in fp32, PSNR >= {BROKEN_PSNR} dB always)")
    worst = min(result.psnr, fp16.psnr) if fp16 is not None else math.inf
    if worst < FP16_MIN_PSNR:
        banner = "!" * 78
        message = (f"FP16 export is only {worst:.1f} dB from fp32 (expected >= {FP16_MIN_PSNR} dB): "
                   f"its output will look different; prefer the fp32 model")
        print(f"{banner}\nWARNING: {message}\n{banner}")
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return result
