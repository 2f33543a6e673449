"""Architecture study: candidates trained at an equal CPU budget, compared on size, speed and quality.

For each training run folder (indi-edge train ... --cpu-limit MIN): parameters, multiply-adds per output
pixel, the CPU budget and steps it used, ONNX Runtime fp32 milliseconds per network call at 1280x720 on
this CPU, the FP16 check (network in fp16 against fp32, dB), and the held-out gain over the blurred
input at N=1 (mean and worst image). Gain per millisecond ranks them.

    python benchmarks/arch_study.py runs/cmp-edge-s runs/cmp-edge-s-deep runs/cmp-edge-m \\
        --out benchmarks/results/arch_study_motion
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def onnx_ms_per_call(onnx_path: Path, height: int, width: int, repeats: int, threads: int) -> float:
    """Median wall milliseconds of one ONNX Runtime CPU call (batch 1, fp32) after one warm-up."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
    t = np.ones(1, np.float32)
    session.run(None, {"x": x, "t": t})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {"x": x, "t": t})
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def budget(run: Path) -> dict:
    """Steps, CPU seconds and wall seconds of the run's last log line."""
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    return {"steps": last["step"], "cpu_min": last.get("cpu_s", float("nan")) / 60, "wall_min": last["elapsed_s"] / 60}


def max_activation(model) -> float:
    """The largest |output| of any convolution on a held-out image at t=1: a trained network keeps it
    near 10; one whose activations ran away (no normalisation layers) shows 1e4 and more."""
    import torch

    from indi_edge.training.data import tasks

    pair = tasks.heldout_pairs("motion-deblur", size=64, limit=1)[0]
    y = torch.from_numpy(pair.degraded.transpose(2, 0, 1)[None].copy())
    peaks = []
    hooks = [m.register_forward_hook(lambda mod, i, o: peaks.append(o.abs().max().item()))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(y, torch.ones(1))
    for h in hooks:
        h.remove()
    return max(peaks)


def study(run: Path, args) -> dict:
    from indi_edge.export import export_onnx, load_model
    from indi_edge.export.source import weights_path
    from indi_edge.export.validate import half_precision
    from indi_edge.training import evaluate, nn

    model, info = load_model(run)
    row = {"run": str(run), "preset": info.preset, "params_m": nn.count_parameters(model) / 1e6,
           "mac_per_px": nn.macs_per_pixel(model), "max_activation": max_activation(model), **budget(run)}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", info)
        row["ort_ms_720p"] = onnx_ms_per_call(onnx_path, 720, 1280, args.repeats, args.threads)
    row["fp16_db"] = half_precision(model, info).psnr
    model_fn, _ = evaluate.load_model(weights_path(run))
    result = evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False)
    before, after = result["rows"][0]["per_image"], result["rows"][1]["per_image"]
    gains = [after[k]["psnr"] - before[k]["psnr"] for k in before]
    row.update(gain_n1=float(np.mean(gains)), worst_gain_n1=float(np.min(gains)))
    row["gain_per_ms"] = row["gain_n1"] / row["ort_ms_720p"]
    return row


def table(rows: list[dict], cpu: str) -> str:
    lines = [f"CPU: {cpu}. ONNX Runtime fp32, batch 1, 1280x720, median ms per network call.", "",
             "| candidate | params | MAC/px | budget (CPU min, steps) | ORT ms 720p | FP16 vs fp32 | max activation | gain N=1 (worst) | gain / 100 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: -r["gain_per_ms"]):
        lines.append(f"| {r['preset']} | {r['params_m']:.2f}M | {r['mac_per_px'] / 1e3:.1f}k | {r['cpu_min']:.0f}, "
                     f"{r['steps']} | {r['ort_ms_720p']:.0f} | {r['fp16_db']:.1f} dB | {r['max_activation']:.3g} | {r['gain_n1']:+.2f} "
                     f"({r['worst_gain_n1']:+.2f}) dB | {100 * r['gain_per_ms']:+.3f} dB |")
    return "\n".join(lines)


def main() -> None:
    from indi_edge.cpu_features import cpu_features

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.md and OUT.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = [study(run, args) for run in args.runs]
    cpu = cpu_features().summary()
    text = table(rows, cpu)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.md").write_text(text + "\n")
    Path(f"{args.out}.json").write_text(json.dumps({"cpu": cpu_features().to_dict(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
