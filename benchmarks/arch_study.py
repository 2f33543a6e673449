"""Architecture study: candidates trained from scratch on the same batches, compared on size, speed and quality.

For each training run folder: parameters, multiply-adds per output pixel, milliseconds per network call
(one InDI step) at 1280x720 on this CPU through the automatic path and through ONNX Runtime fp32, the
FP16 checks (the FP16 ONNX export run by ONNX Runtime, and the network computed in fp16 by torch, each
against fp32, dB), the largest activation on a held-out image, and the
held-out gain over the blurred input at N=1 (mean and worst image). With RUN:CURVE (the CSV of
benchmarks/campaign.py), the gain is read from the curve at each of --points CPU-hours (the row
nearest each), so the table shows how each candidate learns, not one point.

    python benchmarks/arch_study.py runs/arch-edge-s:benchmarks/results/campaign_motion_edge-s.csv \\
        campaign/motion-naf-s:benchmarks/results/campaign_motion_naf-s.csv ... \\
        --points 0.25,0.5,1 --out benchmarks/results/arch_campaign_motion
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def ms_per_call(onnx_path: Path, backend: str, height: int, width: int, repeats: int, threads: int) -> tuple[float, str]:
    """(median wall milliseconds of one network call, batch 1, after one warm-up; the path that ran it)
    for a CPU path of indi_edge's ("auto": what Restorer picks on this CPU, "onnxruntime": fp32)."""
    from indi_edge.backends import open_backend
    from indi_edge.backends.choice import choose

    network = open_backend(onnx_path, backend=backend, threads=threads)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
    t = np.ones(1, np.float32)
    network(x, t)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        network(x, t)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), choose(onnx_path, backend)


def budget(run: Path) -> dict:
    """Steps and training CPU minutes of the run (all its processes, from its log)."""
    from campaign import cpu_hours  # benchmarks/campaign.py, beside this script

    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    return {"steps": last["step"], "cpu_min": 60 * cpu_hours(run)}


def curve_points(curve: Path, points: list[float]) -> list[dict]:
    """The curve's rows nearest each of `points` CPU-hours: {cpu_h, step, heldout_gain, heldout_worst, video_gain}."""
    import csv

    with curve.open() as f:
        table = list(csv.DictReader(f))
    rows = []
    for point in points:
        row = min(table, key=lambda r: abs(float(r["cpu_h"]) - point))
        rows.append({k: float(row[k]) for k in ("cpu_h", "step", "heldout_gain", "heldout_worst", "video_gain")}
                    | {"cpu": row["cpu"]})
    return rows


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


def study(run: Path, curve: Path | None, args) -> dict:
    from indi_edge.export import export_onnx, load_model
    from indi_edge.export.source import weights_path
    from indi_edge.export.validate import half_precision, validate
    from indi_edge.training import evaluate, nn

    model, info = load_model(run)
    row = {"run": str(run), "preset": info.preset, "params_m": nn.count_parameters(model) / 1e6,
           "mac_per_px": nn.macs_per_pixel(model), "max_activation": max_activation(model), **budget(run)}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", info)
        row["auto_ms_720p"], row["auto_path"] = ms_per_call(onnx_path, "auto", 720, 1280, args.repeats, args.threads)
        row["ort_ms_720p"], _ = ms_per_call(onnx_path, "onnxruntime", 720, 1280, args.repeats, args.threads)
        fp16_path = export_onnx(model, Path(tmp) / "model_fp16.onnx", info, fp16=True, check=False)
        row["fp16_onnx_db"] = validate(fp16_path, model, info).psnr  # the FP16 ONNX (ONNX Runtime) vs torch fp32
    row["fp16_db"] = half_precision(model, info).psnr  # every op in fp16 (torch), as an FP16 engine computes
    if curve is not None:
        row["curve"] = curve_points(curve, args.points)
        return row
    model_fn, _ = evaluate.load_model(weights_path(run))
    result = evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False)
    before, after = result["rows"][0]["per_image"], result["rows"][1]["per_image"]
    gains = [after[k]["psnr"] - before[k]["psnr"] for k in before]
    row["curve"] = [{"cpu_h": row["cpu_min"] / 60, "step": row["steps"], "heldout_gain": float(np.mean(gains)),
                     "heldout_worst": float(np.min(gains)), "video_gain": float("nan"), "cpu": ""}]
    return row


def table(rows: list[dict], cpu: str, args) -> str:
    points = " | ".join(f"gain at {60 * p:.0f} CPU-min" for p in args.points)
    lines = [f"CPU: {cpu}. Milliseconds per network call (one InDI step), batch 1, 1280x720, {args.threads} threads, "
             f"median of {args.repeats}. Gain: held-out N=1 over the blurred input, mean (worst image) / video split "
             "mean, at strength 1.", "",
             f"| candidate | params | MAC/px | auto path, ms 720p | ONNX Runtime fp32, ms 720p | FP16 ONNX vs fp32 | "
             f"all-fp16 network vs fp32 | max activation | {points} |",
             "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(args.points)]
    for r in rows:
        gains = " | ".join(f"{c['heldout_gain']:+.2f} ({c['heldout_worst']:+.2f}) / {c['video_gain']:+.2f} dB "
                           f"[{60 * c['cpu_h']:.0f} min, step {c['step']:.0f}]" for c in r["curve"])
        lines.append(f"| {r['preset']} | {r['params_m']:.2f}M | {r['mac_per_px'] / 1e3:.1f}k | {r['auto_ms_720p']:.0f} "
                     f"({r['auto_path']}) | {r['ort_ms_720p']:.0f} | {r['fp16_onnx_db']:.1f} dB | {r['fp16_db']:.1f} dB | "
                     f"{r['max_activation']:.3g} | "
                     f"{gains} |")
    return "\n".join(lines)


def main() -> None:
    from indi_edge.cpu_features import cpu_features

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="training run folders, each RUN or RUN:CURVE.csv")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.md and OUT.json")
    parser.add_argument("--points", type=lambda text: [float(p) for p in text.split(",")], default=[0.25, 0.5, 1.0],
                        help="CPU-hours at which to read each curve (default 0.25,0.5,1)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for spec in args.runs:
        run, _, curve = spec.partition(":")
        rows.append(study(Path(run), Path(curve) if curve else None, args))
    cpu = cpu_features().summary()
    text = table(rows, cpu, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.md").write_text(text + "\n")
    Path(f"{args.out}.json").write_text(json.dumps({"cpu": cpu_features().to_dict(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
