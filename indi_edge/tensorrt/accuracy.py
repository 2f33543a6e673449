"""A built engine checked against the ONNX it came from, before anyone uses it.

TensorRT may pick tactics that overflow fp16 or lose precision in ways a NaN check does not see.
After a build, the engine and ONNX Runtime (CPU, fp32) restore the same frame at N=1 and N=2; the
engine must be within MIN_PSNR of the reference or the build fails and the engine is removed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from indi_edge import metrics, tiling

MIN_PSNR = {"fp16": 40.0, "fp32": 60.0}  # dB against the fp32 ONNX on the CPU (fp16: as export's check)


class InaccurateEngine(RuntimeError):
    """The engine's frames are too far from the ONNX model's."""


def check_frame(size: int = 256) -> np.ndarray:
    """A uint8 BGR frame of smooth texture (tiling.texture): no dataset needed on the GPU machine."""
    unit = (tiling.texture(size)[0].transpose(1, 2, 0) + 1.0) * 0.5
    return np.ascontiguousarray(np.rint(unit * 255.0).astype(np.uint8)[..., ::-1])


def compare(engine_restorer, reference_restorer, precision: str, frame: np.ndarray) -> dict[int, float]:
    """PSNR (dB) of the engine's frame against the reference's, per step count; raises
    InaccurateEngine below MIN_PSNR[precision]."""
    scores = {}
    for steps in (1, 2):
        got, want = _run(engine_restorer, frame, steps), _run(reference_restorer, frame, steps)
        scores[steps] = metrics.psnr(got.astype(np.float32), want.astype(np.float32), 255.0)
    worst = min(scores.values())
    if worst < MIN_PSNR[precision]:
        raise InaccurateEngine(f"the {precision} engine is {worst:.1f} dB from the ONNX model on the CPU "
                               f"(needs >= {MIN_PSNR[precision]:.0f} dB; N=1: {scores[1]:.1f}, N=2: {scores[2]:.1f})")
    return scores


def _run(restorer, frame: np.ndarray, steps: int) -> np.ndarray:
    restorer.steps = steps
    return restorer.run(frame)


def check_engine(engine: Path, onnx: Path, precision: str, log, device: int = 0) -> dict[int, float]:
    """Open the engine (GPU) and the ONNX (CPU) and compare(); on failure remove the engine and its
    sidecar so that nothing can load it, then raise."""
    from indi_edge.backends.tensorrt import TensorRTBackend
    from indi_edge.restorer import Restorer
    from indi_edge.tensorrt.cache import sidecar_path

    frame = check_frame()
    try:
        with Restorer(TensorRTBackend(engine, device=device), tile=0) as built, Restorer(onnx, tile=0, backend="onnxruntime") as reference:
            scores = compare(built, reference, precision, frame)
    except InaccurateEngine:
        engine.unlink(missing_ok=True)
        sidecar_path(engine).unlink(missing_ok=True)
        raise
    log.line("accuracy against the ONNX on the CPU: " + ", ".join(f"N={n} {p:.1f} dB" for n, p in scores.items()))
    return scores
