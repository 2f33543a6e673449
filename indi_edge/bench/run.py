"""The benchmark run: settings, the configurations it times, the roofline beside every figure,
the bf16 quality check, and the headline the issue asks for (720p, N=4, default model)."""
from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from indi_edge.bench import experiments, roofline, timing
from indi_edge.bench.variants import BACKENDS, BASELINE, PACKAGE, PRECISION, Artifacts, open_variant, precision_of
from indi_edge.cpu_features import bf16_skip_reason, cpu_features

RESOLUTIONS = {"256": (256, 256), "720p": (720, 1280), "1080p": (1080, 1920)}
HEADLINE = ("720p", 4)  # the question: resolution and N


@dataclasses.dataclass(frozen=True)
class Settings:
    model: str = "motion-deblur"
    resolutions: tuple[str, ...] = ("256", "720p", "1080p")
    steps: tuple[int, ...] = (1, 2, 4, 8)
    backends: tuple[str, ...] = BACKENDS
    frames: int = 20                      # timed frames per configuration (after warm-up)
    warmup: int = 1                       # untimed batches first (graph build, oneDNN primitive caches)
    threads: int = os.cpu_count() or 1
    large: tuple[str, ...] = ("1080p",)   # resolutions timed only at large_steps with large_backends
    large_steps: tuple[int, ...] = (1, 4)
    large_backends: tuple[str, ...] = ("torch-eager-fp32", "onnxrt-fp32-step", "torch-bf16")
    trimmed: tuple[tuple[str, int], ...] = (("720p", 8),)  # (resolution, N) also timed with large_backends only
    throughput_batch: int = 8             # throughput mode: frames per call at 256x256, N = throughput_steps
    throughput_steps: int = 4
    quality_steps: tuple[int, ...] = (2, 4)  # the bf16 PSNR check on held-out images
    experiments: bool = True              # the option sweep (experiments.py) at 720p
    peak_repeats: int = 10
    peak_sizes: tuple[int, int] = (2048, 4096)  # fp32, bf16 matrix sizes for the peak measurements
    quick: bool = False
    note: str = ""

    def validate(self) -> "Settings":
        unknown = [b for b in self.backends + self.large_backends if b not in BACKENDS]
        if unknown:
            raise ValueError(f"unknown backends {unknown}; choose from {list(BACKENDS)}")
        bad = [r for r in self.resolutions if r not in RESOLUTIONS]
        if bad:
            raise ValueError(f"unknown resolutions {bad}; choose from {list(RESOLUTIONS)}")
        for name in ("frames", "warmup", "threads", "throughput_batch"):
            if getattr(self, name) < (0 if name in ("warmup", "throughput_batch") else 1):
                raise ValueError(f"{name} must be >= 1 (warmup, throughput_batch >= 0), got {getattr(self, name)}")
        if any(n < 1 for n in self.steps + self.large_steps + self.quality_steps):
            raise ValueError("step counts must be >= 1")
        return self


# --quick: a smoke run of every part without exports (the unrolled graph and .pt2 compiles would add ~1 min).
QUICK = dict(resolutions=("256",), steps=(1, 2), backends=("torch-eager-fp32", "onnxrt-fp32-step", "torch-bf16", "auto"),
             frames=5, warmup=1, throughput_batch=2, throughput_steps=2, quality_steps=(2,), experiments=False,
             peak_repeats=3, peak_sizes=(1024, 2048), quick=True)


def skipped_backends(backends: tuple[str, ...]) -> dict[str, str]:
    """The variants that cannot run (or would run emulated) on this machine, with the reason."""
    skipped = {}
    for name in backends:
        if PRECISION[name] == "bf16" and bf16_skip_reason():
            skipped[name] = bf16_skip_reason()
        elif name in PACKAGE and importlib.util.find_spec(PACKAGE[name]) is None:
            skipped[name] = f"the Python package {PACKAGE[name]!r} is not installed"
    return skipped


def runnable(settings: Settings, log=print) -> tuple[Settings, dict[str, str]]:
    """settings without the variants that cannot run here (logged once each, with the reason)."""
    skipped = skipped_backends(tuple(dict.fromkeys(settings.backends + settings.large_backends)))
    for name, reason in skipped.items():
        log(f"  skipping {name}: {reason}")
    keep = lambda names: tuple(n for n in names if n not in skipped)  # noqa: E731
    return dataclasses.replace(settings, backends=keep(settings.backends),
                               large_backends=keep(settings.large_backends)), skipped


# --- inputs and environment ----------------------------------------------------------------------

def bench_frame(height: int, width: int) -> np.ndarray:
    """uint8 [height, width, 3] BGR: the first held-out image (a real photo), resized with INTER_AREA."""
    import cv2

    from indi_edge.training.data import corpus

    _, rgb = corpus.heldout_images()[0]
    frame = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)


def padded(height: int, width: int, multiple: int) -> tuple[int, int]:
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def cpu_description() -> dict:
    """This CPU's model and the features that choose paths (cpu_features), with the core count."""
    features = cpu_features()
    return {**features.to_dict(), "summary": features.summary(), "cores": os.cpu_count(), "machine": platform.machine()}


def versions() -> dict:
    from indi_edge import ops

    found = {"python": platform.python_version(), "indi_edge.ops": ops.backend()}
    for dist in ("indi-edge", "numpy", "onnxruntime", "onnx", "torch", "opencv-python-headless"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def device_limits(threads: int, repeats: int, sizes: tuple[int, int] = (2048, 4096)) -> dict:
    """This CPU's measured matrix-product peaks (fp32; bf16 only where the CPU has it natively: emulated
    bf16 took minutes per product on an AVX2-only EPYC) and copy bandwidth."""
    bf16_skip = bf16_skip_reason()
    return {"matmul_fp32": roofline.measure_matmul_peak("fp32", threads, sizes[0], repeats=repeats),
            "matmul_bf16": {"dtype": "bf16", "skipped": bf16_skip} if bf16_skip else
            roofline.measure_matmul_peak("bf16", threads, sizes[1], repeats=repeats),
            "copy_bandwidth": roofline.measure_copy_bandwidth(threads, repeats=repeats)}


def best_limits(measurements: list[dict]) -> dict:
    """The device's limits: of the measurements (start and end of a run on a shared machine), the one
    with the highest median for each quantity; all of them are kept under "measurements"."""
    best = {key: max((m[key] for m in measurements),
                     key=lambda v: v.get("median_tflops", v.get("median_gbs", 0.0)))  # a skipped one: 0
            for key in measurements[0]}
    return {**best, "measurements": measurements}


# --- timing ----------------------------------------------------------------------------------------

def plan(settings: Settings) -> list[tuple[str, int, int, list[str]]]:
    """(resolution, steps, batch, backends timed together) for every configuration."""
    configs = []
    for res in settings.resolutions:
        large = res in settings.large
        backends = [b for b in settings.backends if not large or b in settings.large_backends]
        configs += [(res, n, 1, backends if (res, n) not in settings.trimmed else
                     [b for b in backends if b in settings.large_backends])
                    for n in (settings.large_steps if large else settings.steps)]
    if settings.throughput_batch > 1 and "256" in settings.resolutions:
        configs.append(("256", settings.throughput_steps, settings.throughput_batch, list(settings.backends)))
    return configs


def time_configs(settings: Settings, artifacts: Artifacts, log=print) -> list[dict]:
    """Every configuration of plan(), its paths timed interleaved; backends opened once and kept."""
    from indi_edge.restorer import Restorer

    rows, opened = [], {}
    for res, n, batch, backends in plan(settings):
        restorers = {}
        for name in backends:
            key = (name, n if name == "onnxrt-fp32-unrolled" else 0)  # an unrolled graph per N
            if key not in opened:
                opened[key] = timing.TimedBackend(open_variant(name, artifacts, n, settings.threads))
            restorers[name] = Restorer(opened[key], steps=n)
        height, width = RESOLUTIONS[res]
        stats = timing.measure(restorers, bench_frame(height, width), batch, -(-settings.frames // batch),
                               settings.warmup)
        for name in backends:
            row = {"backend": name, "precision": precision_of(name, artifacts), "resolution": res, "height": height,
                   "width": width, "steps": n, "batch": batch, **stats[name],
                   "providers": restorers[name].backend.providers}
            log(f"  {name:22s} {res:>6s} N={n} batch={batch}: {row['median_ms']:9.1f} ms/frame "
                f"(network {row['parts_ms']['network']:.1f}, overhead {100 * row['overhead_share']:.1f}%)")
            rows.append(row)
    order = list(settings.backends)
    return sorted(rows, key=lambda r: (order.index(r["backend"]), r["batch"], r["steps"], list(RESOLUTIONS).index(r["resolution"])))


def add_roofline(rows: list[dict], costs: dict[str, roofline.GraphCost], limits: dict) -> None:
    """Beside each row: the floor on this CPU for its precision (the slower of the matmul-peak compute
    floor and the copy-bandwidth activation floor) and the achieved fractions."""
    bandwidth = limits["copy_bandwidth"]["median_gbs"]
    for row in rows:
        peak = limits[f"matmul_{row['precision']}"]["median_tflops"]
        cost = costs[row["resolution"]]
        compute = roofline.floor_ms(cost, row["steps"], 1, peak)
        floor = roofline.floor_ms(cost, row["steps"], 1, peak, bandwidth, row["precision"])
        row.update(compute_floor_ms=compute, floor_ms=floor, floor_bound="compute" if floor == compute else "memory",
                   fraction_of_peak=roofline.fraction(floor, row["median_ms"]),
                   network_fraction_of_peak=roofline.fraction(floor, row["parts_ms"]["network"]),
                   fraction_of_compute_peak=roofline.fraction(compute, row["median_ms"]))


def add_speedups(rows: list[dict]) -> None:
    base = {(r["resolution"], r["steps"], r["batch"]): r["median_ms"] for r in rows if r["backend"] == BASELINE}
    for row in rows:
        ref = base.get((row["resolution"], row["steps"], row["batch"]))
        row["speedup_vs_torch_eager"] = ref / row["median_ms"] if ref else None


def auto_choice(artifacts: Artifacts) -> dict:
    """What Restorer(model) picks here (the `auto` variant) and this CPU's order of paths."""
    from indi_edge.backends import choice

    kind, order = choice.fastest_first(cpu_features())
    return {"path": choice.choose(artifacts.step_onnx()), "cpu_kind": kind, "fastest_first": list(order)}


# --- quality of the bf16 path ---------------------------------------------------------------------

def bf16_quality(artifacts: Artifacts, bf16_backends: list[str], steps: tuple[int, ...], threads: int) -> dict:
    """PSNR on the held-out pairs of the model's task: each bf16 path against the fp32 ONNX Runtime
    path (the per-step graph; the unrolled one computes the same loop to ~1e-6)."""
    from indi_edge.training import evaluate
    from indi_edge.training.data.tasks import TASKS

    task = artifacts.info.task
    if task not in TASKS:
        return {"skipped": f"model task {task!r} has no held-out protocol (tasks: {sorted(TASKS)})"}
    if not bf16_backends:
        return {"skipped": "no bf16 path benchmarked"}
    result = {"task": task, "steps": list(steps), "fp32_backend": "onnxrt-fp32-step", "psnr": {}}
    for name in ["onnxrt-fp32-step", *bf16_backends]:
        backend = open_variant(name, artifacts, steps[0], threads)
        scored = evaluate.evaluate(backend, task, steps=steps, baselines=False, progress=False,
                                   sampler=artifacts.info.sampler, eps=artifacts.info.eps,
                                   eps_schedule=artifacts.info.eps_schedule, strength=artifacts.info.strength)
        result["psnr"][name] = {str(r["steps"]): r["psnr"] for r in scored["rows"] if r["steps"] is not None}
        result["input_psnr"] = next(r["psnr"] for r in scored["rows"] if r["method"] == "input")
        result["images"] = scored["images"]
    fp32 = result["psnr"]["onnxrt-fp32-step"]
    result["psnr_difference_db"] = {name: {n: result["psnr"][name][n] - fp32[n] for n in fp32} for name in bf16_backends}
    return result


# --- headline ---------------------------------------------------------------------------------------

def headline(rows: list[dict], resolution: str, steps: int) -> dict:
    """The issue's figures at (resolution, steps, batch 1): fastest path vs torch eager, bf16 vs fp32."""
    here = [r for r in rows if (r["resolution"], r["steps"], r["batch"]) == (resolution, steps, 1)]
    if not here:
        return {"skipped": f"no batch-1 rows at {resolution}, N={steps}"}
    fastest = min(here, key=lambda r: r["median_ms"])
    fp32 = [r for r in here if r["precision"] == "fp32" and r["backend"] != BASELINE]
    base = next((r for r in here if r["backend"] == BASELINE), None)
    bf16 = min((r for r in here if r["precision"] == "bf16"), key=lambda r: r["median_ms"], default=None)
    best_fp32 = min(fp32, key=lambda r: r["median_ms"]) if fp32 else None
    out = {"resolution": resolution, "steps": steps, "fastest": _brief(fastest),
           "torch_eager_fp32": _brief(base) if base else None,
           "speedup_vs_torch_eager": base["median_ms"] / fastest["median_ms"] if base else None,
           "fastest_fp32": _brief(best_fp32) if best_fp32 else None}
    if bf16 and best_fp32:
        out["fastest_bf16"] = _brief(bf16)
        out["bf16_speedup_vs_fastest_fp32"] = best_fp32["median_ms"] / bf16["median_ms"]
    return out


def _brief(row: dict) -> dict:
    keys = ("backend", "precision", "median_ms", "p90_ms", "p99_ms", "floor_ms", "floor_bound", "fraction_of_peak",
            "network_fraction_of_peak", "compute_floor_ms", "fraction_of_compute_peak", "overhead_share", "parts_ms")
    return {k: row[k] for k in keys}


# --- the whole run ------------------------------------------------------------------------------------

def preset_costs(artifacts: Artifacts, cache: Path, presets: list[str], log=print) -> dict[str, dict]:
    """MACs and conv activations per pixel for each preset, counted from its ONNX graph at 256x256
    (randomly initialised: counts do not depend on weights); cached as JSON in `cache`."""
    import onnx
    import torch

    from indi_edge.export.onnx_export import trace_onnx
    from indi_edge.model_info import ModelInfo
    from indi_edge.training import nn

    path = Path(cache) / f"preset_costs-torch{torch.__version__}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text()) if path.is_file() else {}
    for preset in presets:
        config = nn.PRESETS[preset].to_json()
        if known.get(preset, {}).get("config") == config:
            continue
        log(f"  counting preset {preset} from its ONNX graph")
        model = nn.build(preset).eval()
        graph = Path(cache) / f".preset-{preset}.onnx"
        onnx.save_model(trace_onnx(model, ModelInfo(multiple=model.multiple), 0), str(graph))
        try:
            cost = roofline.count_graph(graph, 256, 256)
        finally:
            graph.unlink(missing_ok=True)
        known[preset] = {"config": config, "macs_per_pixel": cost.macs_per_pixel,
                         "activations_per_pixel": cost.activations / (256 * 256)}
    path.write_text(json.dumps(known, indent=1))
    return {p: known[p] for p in presets}


def run(settings: Settings, cache: Path, log=print) -> dict:
    """Everything the JSON holds: environment, limits, graph costs, timed rows, floors, quality, headline."""
    import torch

    from indi_edge import ops
    from indi_edge.training import nn

    settings, skipped = runnable(settings.validate(), log)
    started, load_start = time.time(), os.getloadavg()[0]
    torch.set_num_threads(settings.threads)
    ops.set_num_threads(settings.threads)
    artifacts = Artifacts(settings.model, Path(cache))
    info = artifacts.info
    multiple = info.multiple
    log(f"model {settings.model} ({info.preset or 'custom'}, multiple {multiple}); measuring this CPU's peaks")
    first_limits = device_limits(settings.threads, settings.peak_repeats, settings.peak_sizes)
    sizes = {res: padded(*RESOLUTIONS[res], multiple) for res in settings.resolutions}
    costs = {res: roofline.count_graph(artifacts.step_onnx(), *hw) for res, hw in sizes.items()}
    # The short parts first, so a failure shows before the long timing.
    log("bf16 quality on held-out images")
    quality = bf16_quality(artifacts, [b for b in settings.backends if precision_of(b, artifacts) == "bf16"],
                           settings.quality_steps, settings.threads)
    trials = []
    if settings.experiments:
        log("option sweep at 720p (one network call)")
        x = np.random.default_rng(0).uniform(-1, 1, (1, 3, *padded(720, 1280, multiple))).astype(np.float32)
        trials = (experiments.onnxruntime_options(artifacts.step_onnx(), x, settings.threads, 5)
                  + experiments.torch_eager_options(artifacts.torch_model()[0], x, settings.threads, 5))
    log("timing " + ", ".join(settings.backends))
    rows = time_configs(settings, artifacts, log)
    log("measuring this CPU's peaks again (the best of start and end is the device's limit)")
    limits = best_limits([first_limits, device_limits(settings.threads, settings.peak_repeats, settings.peak_sizes)])
    add_roofline(rows, costs, limits)
    add_speedups(rows)
    head = headline(rows, *HEADLINE) if HEADLINE[0] in settings.resolutions else headline(
        rows, settings.resolutions[-1], max(settings.steps))
    presets = sorted(nn.PRESETS) if not settings.quick else [info.preset or "model"]
    if settings.quick or not info.preset:
        per_pixel = {presets[0]: {"macs_per_pixel": costs[settings.resolutions[0]].macs_per_pixel,
                                  "activations_per_pixel": costs[settings.resolutions[0]].activations
                                  / np.prod(sizes[settings.resolutions[0]])}}
    else:
        per_pixel = preset_costs(artifacts, Path(cache), presets, log)
    predicted = roofline.predicted_floors(
        {p: {res: roofline.GraphCost.from_per_pixel(
            *padded(*RESOLUTIONS[res], multiple), c["macs_per_pixel"], c["activations_per_pixel"]) for res in RESOLUTIONS}
         for p, c in per_pixel.items()}, sorted(set(settings.steps) | {1, 2, 4, 8}))
    return {"kind": "indi_edge benchmark", "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "settings": {**dataclasses.asdict(settings), "cache": str(cache)},
            "device": {"kind": "cpu", **cpu_description(), "threads": settings.threads},
            "versions": versions(), "model": {"name": settings.model, "weights": str(artifacts.weights),
                                              "info": dataclasses.asdict(info),
                                              "step_onnx": str(artifacts.step_onnx())},
            "limits": limits,
            "graph_costs": {res: dataclasses.asdict(c) | {"macs_per_pixel": c.macs_per_pixel} for res, c in costs.items()},
            "rows": rows, "headline": head, "bf16_quality": quality, "experiments": trials,
            "skipped_backends": skipped, "auto_path": auto_choice(artifacts),
            "preset_costs": per_pixel, "targets": roofline.targets_table(), "predicted_floors": predicted,
            "load_average": {"start": load_start, "end": os.getloadavg()[0]},  # other work on the machine
            "wall_s": time.time() - started}
