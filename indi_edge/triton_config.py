"""config.pbtxt for a Triton model that takes uint8 BGR frames and returns them restored.

Both ways indi_edge meets Triton write it here: the exported ONNX repository (`export --triton`,
Triton's ONNX Runtime backend, GPU or CPU) and `indi-edge serve` (Triton's Python backend running a
Restorer). Needs nothing beyond the standard library.
"""
from __future__ import annotations

INPUT, OUTPUT = "frames", "restored"
KINDS = ("KIND_GPU", "KIND_CPU")


def config_text(name: str, max_batch: int, instances: int, kind: str, queue_delay_us: int, *,
                platform: str | None = "onnxruntime_onnx", backend: str | None = None, fp16: bool = True) -> str:
    """uint8 frames in and out (batch dimension implicit), dynamic batching (Triton batches requests
    of the same frame size), instance groups, and on GPUs the TensorRT accelerator of ONNX Runtime.
    Give a `platform` (an ONNX model) or a `backend` ("python": model.py beside the config)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if max_batch < 1 or instances < 1:
        raise ValueError(f"max_batch and instances must be >= 1, got {max_batch} and {instances}")
    if (platform is None) == (backend is None):
        raise ValueError("give either a platform or a backend")
    lines = [
        f'name: "{name}"',
        f'platform: "{platform}"' if platform else f'backend: "{backend}"',
        f"max_batch_size: {max_batch}",
        f'input [ {{ name: "{INPUT}" data_type: TYPE_UINT8 dims: [ -1, -1, 3 ] }} ]',
        f'output [ {{ name: "{OUTPUT}" data_type: TYPE_UINT8 dims: [ -1, -1, 3 ] }} ]',
        f"dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}",
        f"instance_group [ {{ count: {instances} kind: {kind} }} ]",
    ]
    if kind == "KIND_GPU" and platform == "onnxruntime_onnx":
        precision = "FP16" if fp16 else "FP32"
        lines.append(
            "optimization { execution_accelerators { gpu_execution_accelerator : [ { name : \"tensorrt\" "
            f'parameters {{ key: "precision_mode" value: "{precision}" }} '
            'parameters { key: "max_workspace_size_bytes" value: "1073741824" } '
            'parameters { key: "trt_engine_cache_enable" value: "1" } } ] } }')
    return "\n".join(lines) + "\n"
