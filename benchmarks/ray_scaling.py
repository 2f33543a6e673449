"""Ray Data scaling: the same folder restored with 1 and with 2 actors on a local Ray.

    python benchmarks/ray_scaling.py --out benchmarks/results --tag zen4      # ~2 min on 2 cores

Each actor owns a Restorer with one thread, so actors are the only parallelism. Ray is started
once, before both runs: the times are the restore_files calls (dataset, actor start-up, restores).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import results_io  # benchmarks/results_io.py, beside this script
from indi_edge import video
from indi_edge.cpu_features import cpu_features
from indi_edge.scale_ray import RayOptions, restore_files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="denoise")
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    import ray

    work = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(args.videos):
        src = video.write_frames(work / f"clip{i}.mkv", [rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
                                                        for _ in range(args.frames)], 24.0)
        pairs.append((src, work / "out" / src.name))
    (work / "out").mkdir()
    ray.init(include_dashboard=False, log_to_driver=False)
    seconds = {}
    try:
        for actors in (1, 2):
            start = time.perf_counter()
            restore_files(pairs, args.model, restorer_kwargs=dict(steps=1, threads=1), options=RayOptions(actors=actors))
            seconds[actors] = time.perf_counter() - start
    finally:
        ray.shutdown()
    frames = args.videos * args.frames
    result = {"command": results_io.command("ray_scaling.py", argv),
              "cpu": cpu_features().model, "model": args.model, "videos": args.videos, "frames": frames,
              "size": args.size, "seconds": seconds, "speedup_2_over_1": seconds[1] / seconds[2]}
    text = "\n".join([
        f"Ray Data on {result['cpu']} (local Ray, 2 cores): {args.videos} videos x {args.frames} frames "
        f"{args.size}x{args.size}, {args.model} N=1, one thread per actor.",
        f"Command: `{result['command']}`", "", "| actors | seconds | frames/s |", "|---:|---:|---:|",
        *(f"| {a} | {s:.1f} | {frames / s:.1f} |" for a, s in seconds.items()), "",
        f"2 actors over 1: **{result['speedup_2_over_1']:.2f}x** (one run each, same Ray session)."])
    print(text)
    results_io.save(args.out, "ray_scaling", args.tag, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
