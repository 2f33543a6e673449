"""A Triton Inference Server model repository for one model: the whole N-step loop and the uint8
frame conversions in one ONNX graph, and a config.pbtxt with dynamic batching.

    indi-edge export runs/m --triton REPO --steps 4         # or python -m ... see write_repository

REPO/NAME/1/model.onnx takes uint8 BGR frames [N, H, W, 3] (any H and W: reflect-padded to the
network's multiple inside the graph, cropped back) and returns them restored, the same shape and
dtype: a client sends what OpenCV decodes and gets back what it writes. One graph per request
batch, no Python in the server (Triton ensembles cannot loop, and a loop in a Python-backend model
is a round trip per step). Triton's ONNX Runtime backend runs it on CPU or GPU; on a GPU the
config asks ONNX Runtime's TensorRT accelerator for FP16.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from indi_edge import atomic
from indi_edge.export.onnx_export import OPSET
from indi_edge.model_info import ModelInfo
from indi_edge.triton_config import INPUT, OUTPUT, config_text



def trace_frame_graph(model: torch.nn.Module, info: ModelInfo, steps: int):
    """The frame graph as an ONNX ModelProto with the model facts in its metadata: the unrolled
    loop traced as for `export --unroll` (x [N, 3, m*h, m*w] -> x0), wrapped in ONNX nodes that do
    Restorer.run's conversions (frames.to_tensor / from_tensor: BGR <-> RGB in [-1, 1], reflect-101
    padding bottom/right to the multiple, crop, round half to even, uint8)."""
    import onnx

    from indi_edge.export.onnx_export import trace_onnx

    if info.eps > 0:
        raise ValueError(f"this model restores with eps = {info.eps:g}: a Triton graph would need the noise as an "
                         f"input from every client; export a model trained with eps = 0, or serve it through a "
                         f"Restorer, which draws the noise")
    core = trace_onnx(model.eval(), info.replace(multiple=model.multiple), steps).graph
    return _wrap(core, int(model.multiple), info.replace(steps=steps, unrolled_steps=steps, multiple=model.multiple))


def _wrap(core, multiple: int, info: ModelInfo):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name, values, dtype=np.int64):
        return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)

    # The wrapper's own names start with io_, so they cannot meet the traced graph's; "x" and "x0"
    # are where they join it.
    reverse = dict(starts="io_c_rev_start", ends="io_c_rev_end", axes="io_c_axis3", steps="io_c_minus1")
    pre = [
        helper.make_node("Cast", [INPUT], ["io_f32"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["io_f32", reverse["starts"], reverse["ends"], reverse["axes"], reverse["steps"]], ["io_rgb"]),
        helper.make_node("Transpose", ["io_rgb"], ["io_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["io_nchw", "io_c_2_255"], ["io_scaled"]),
        helper.make_node("Sub", ["io_scaled", "io_c_one"], ["io_x_unpadded"]),
        helper.make_node("Shape", [INPUT], ["io_shape"]),
        helper.make_node("Slice", ["io_shape", "io_c_1", "io_c_3"], ["io_hw"]),                 # [H, W]
        helper.make_node("Mod", ["io_hw", "io_c_multiple"], ["io_hw_mod"]),
        helper.make_node("Sub", ["io_c_multiple", "io_hw_mod"], ["io_hw_short"]),
        helper.make_node("Mod", ["io_hw_short", "io_c_multiple"], ["io_hw_pad"]),             # (-H) mod m, (-W) mod m
        helper.make_node("Concat", ["io_c_zeros6", "io_hw_pad"], ["io_pads"], axis=0),        # begins 0, ends (0, 0, ph, pw)
        helper.make_node("Pad", ["io_x_unpadded", "io_pads"], ["x"], mode="reflect"),
    ]
    post = [
        helper.make_node("Slice", ["x0", "io_c_zeros2", "io_hw", "io_c_axes23"], ["io_x0_crop"]),
        helper.make_node("Add", ["io_x0_crop", "io_c_one"], ["io_shifted"]),
        helper.make_node("Mul", ["io_shifted", "io_c_half"], ["io_unit_raw"]),
        helper.make_node("Clip", ["io_unit_raw", "io_c_zero", "io_c_one"], ["io_unit"]),
        helper.make_node("Mul", ["io_unit", "io_c_255"], ["io_levels"]),
        helper.make_node("Round", ["io_levels"], ["io_rounded"]),                           # half to even, as np.rint
        helper.make_node("Cast", ["io_rounded"], ["io_u8"], to=TensorProto.UINT8),
        helper.make_node("Transpose", ["io_u8"], ["io_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Slice", ["io_nhwc", reverse["starts"], reverse["ends"], reverse["axes"], reverse["steps"]],
                         [OUTPUT]),
    ]
    constants = [
        const("io_c_rev_start", [-1]), const("io_c_rev_end", [-(2 ** 62)]), const("io_c_axis3", [3]), const("io_c_minus1", [-1]),
        const("io_c_1", [1]), const("io_c_3", [3]), const("io_c_multiple", [multiple, multiple]), const("io_c_zeros6", [0] * 6),
        const("io_c_zeros2", [0, 0]), const("io_c_axes23", [2, 3]),
        const("io_c_2_255", 2.0 / 255.0, np.float32), const("io_c_one", 1.0, np.float32), const("io_c_half", 0.5, np.float32),
        const("io_c_zero", 0.0, np.float32), const("io_c_255", 255.0, np.float32),
    ]
    frames_type = lambda name: helper.make_tensor_value_info(name, TensorProto.UINT8, ["n", "h", "w", 3])  # noqa: E731
    graph = helper.make_graph(pre + list(core.node) + post, "indi_edge_frames", [frames_type(INPUT)],
                              [frames_type(OUTPUT)], initializer=constants + list(core.initializer))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="indi_edge.export")
    onnx.helper.set_model_props(proto, {**info.to_metadata(), "indi_edge.io": "uint8 BGR frames [N, H, W, 3]"})
    return proto


def write_repository(repo: str | Path, name: str, model: torch.nn.Module, info: ModelInfo, steps: int, *,
                     max_batch: int = 8, instances: int = 1, kind: str = "KIND_GPU", fp16: bool = True,
                     queue_delay_us: int = 2000, version: int = 1) -> Path:
    """Write REPO/NAME/config.pbtxt and REPO/NAME/VERSION/model.onnx (each atomically); returns REPO/NAME."""
    import onnx

    if not 1 <= steps <= 64:
        raise ValueError(f"steps must be from 1 to 64, got {steps}")
    folder = Path(repo) / name
    text = config_text(name, max_batch, instances, kind, queue_delay_us, fp16=fp16)
    proto = trace_frame_graph(model, info, steps)
    atomic.write_bytes(folder / str(version) / "model.onnx", proto.SerializeToString())
    onnx.checker.check_model(str(folder / str(version) / "model.onnx"))
    atomic.write_text(folder / "config.pbtxt", text)
    return folder
