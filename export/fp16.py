"""FP32 -> FP16 ONNX (weights and compute) with onnxruntime.transformers.float16, run on the
dynamo export (the GUIDE: it breaks legacy exports with Cast nodes; dynamo exports are fine).

The t path (sinusoidal embedding and time MLP) stays fp32: sin(1000 t) in fp16 is off by
~0.5 rad, and those nodes work on [N, C] vectors, so fp32 costs nothing there.
"""
from __future__ import annotations

import onnx

T_INPUT = "t"


def scalar_path_nodes(graph: onnx.GraphProto, root: str = T_INPUT) -> list[str]:
    """Names of the nodes computed from `root` and constants only (no image data reaches them)."""
    derived = {root} | {init.name for init in graph.initializer} | {""}  # "" = omitted optional input
    names = []
    for node in graph.node:  # ONNX graphs are topologically sorted
        if all(name in derived for name in node.input):
            derived.update(node.output)
            names.append(node.name)
    return names


def to_fp16(model: onnx.ModelProto, fp16_io: bool = False) -> onnx.ModelProto:
    """FP16 weights and compute. IO stays fp32 (Casts at the edges) unless fp16_io: then the image
    input/output (and noise) are fp16, as TensorRT 11's strongly typed FP16 engines need, while
    `t` stays fp32 (it only feeds the fp32 t path)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"node_{i}"
    io_names = [v.name for v in model.graph.input] + [v.name for v in model.graph.output]
    keep_io = [T_INPUT] if fp16_io else io_names
    converted = convert_float_to_float16(model, keep_io_types=[n for n in keep_io if n in io_names],
                                         node_block_list=scalar_path_nodes(model.graph),
                                         disable_shape_infer=False)
    # The converter appends the Casts it inserts for fp32 inputs at the end of the node list.
    OnnxModel.graph_topological_sort(converted.graph, is_deterministic=True)
    onnx.checker.check_model(converted)
    return converted
