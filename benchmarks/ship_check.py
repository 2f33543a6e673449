"""Before a model ships: does it survive export and every CPU backend? On the held-out images at the model's
default N and strength (or --steps / --strength), this exports the weights to ONNX fp32 and FP16 (each validated
against torch by export_onnx), then reports
  - FP16 against fp32: the PSNR between the two ONNX files' network outputs, per image (the issue asks >= 40 dB);
  - each CPU backend's mean and worst gain over the degraded input on uint8 BGR frames, as a user's
    OpenCV loop feeds them (Restorer(onnx, backend=B, threads=1)); a backend this machine cannot run is
    listed with the reason.

    python benchmarks/ship_check.py indi_edge/models/motion-deblur.safetensors --out benchmarks/results --tag xeon
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results_io  # noqa: E402

BACKENDS = ("onnxruntime", "openvino", "openvino-bf16", "torch-fp32", "torch-bf16")
FP16_MIN_DB = 40.0


def to_bgr_uint8(img: np.ndarray) -> np.ndarray:
    """A held-out image ([-1, 1] RGB float) as the uint8 BGR frame a camera would give."""
    from indi_edge.training.data.degrade import to_uint8
    from indi_edge.training.evaluate import to_unit

    return np.ascontiguousarray(to_uint8(to_unit(img))[..., ::-1])


def fp16_against_fp32(fp32_onnx: Path, fp16_onnx: Path, pairs) -> dict[str, float]:
    """PSNR (range [-1, 1]) between the fp32 and FP16 networks' outputs at t = 1 on each degraded image."""
    import onnxruntime as ort

    from indi_edge.metrics import psnr

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in (fp32_onnx, fp16_onnx)]
    out = {}
    for pair in pairs:
        feed = {"x": pair.degraded.transpose(2, 0, 1)[None].astype(np.float32), "t": np.ones(1, np.float32)}
        a, b = (s.run(None, feed)[0] for s in sessions)
        out[pair.name] = psnr(a[0].transpose(1, 2, 0), b[0].transpose(1, 2, 0), data_range=2.0)
    return out


def backend_gains(onnx_path: Path, backend: str, pairs, steps: int, strength: float) -> dict[str, float]:
    """Gain in dB (uint8 PSNR) of Restorer(onnx, backend) over the degraded frame, per image."""
    import indi_edge
    from indi_edge.metrics import psnr

    restorer = indi_edge.Restorer(str(onnx_path), backend=backend, threads=1, steps=steps, strength=strength)
    gains = {}
    for pair in pairs:
        clean, degraded = to_bgr_uint8(pair.clean), to_bgr_uint8(pair.degraded)
        gains[pair.name] = psnr(restorer.run(degraded), clean, 255.0) - psnr(degraded, clean, 255.0)
    return gains


def main(argv: list[str] | None = None) -> None:
    from indi_edge.export import export_onnx, load_model
    from indi_edge.export.source import weights_path
    from indi_edge.training.data.tasks import heldout_pairs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="a run folder or its .safetensors")
    parser.add_argument("--steps", type=int, help="N (default: the model's own)")
    parser.add_argument("--strength", type=float, help="(default: the model's own)")
    parser.add_argument("--out", help="folder for ship_check_TAG.{json,md}")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    model, info = load_model(args.weights)
    steps = info.steps if args.steps is None else args.steps
    strength = info.strength if args.strength is None else args.strength
    pairs = heldout_pairs(info.task)
    lines = [f"`{args.weights}` ({info.task}), held-out images, N={steps}, strength {strength:g}", ""]
    result = {"command": results_io.command("ship_check.py", argv), "weights": args.weights, "steps": steps,
              "strength": strength, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fp16 = (export_onnx(model, Path(tmp) / f"model_{p}.onnx", info, fp16=p == "fp16") for p in ("fp32", "fp16"))
        shutil.copy(weights_path(args.weights), fp32.with_suffix(".safetensors"))  # the torch backends run these
        agreement = fp16_against_fp32(fp32, fp16, pairs)
        result["fp16_vs_fp32_db"] = agreement
        worst = min(agreement.values())
        lines += [f"FP16 ONNX against fp32: least {worst:.1f} dB over {len(agreement)} images "
                  f"({'ok' if worst >= FP16_MIN_DB else 'BELOW'} the {FP16_MIN_DB:g} dB bar)", "",
                  "| backend | mean gain | worst image |", "|---|---:|---:|"]
        for backend in BACKENDS:
            try:
                gains = backend_gains(fp32, backend, pairs, steps, strength)
            except Exception as err:  # a backend this machine lacks (e.g. OpenVINO not installed): say why
                result["backends"][backend] = {"error": f"{type(err).__name__}: {err}"}
                lines.append(f"| {backend} | not run: {type(err).__name__}: {str(err).splitlines()[0][:80]} | |")
                continue
            result["backends"][backend] = gains
            lines.append(f"| {backend} | {np.mean(list(gains.values())):+.2f} dB | {min(gains.values()):+.2f} dB |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print("\n" + text)
    results_io.save(args.out, "ship_check", args.tag, result, text)


if __name__ == "__main__":
    main()
