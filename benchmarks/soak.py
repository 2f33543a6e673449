"""Soak: 2,000 frames through Restorer and through the video path; resident memory must not creep.

    python benchmarks/soak.py --out benchmarks/results --tag zen4     # ~2 min on 2 cores

Resident memory (VmRSS) is sampled every 50 ms by a thread; growth is measured from the end of a
warm-up (the first 100 frames: sessions, compiled shapes, allocator pools) to the end of the run.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

import results_io  # benchmarks/results_io.py, beside this script
from indi_edge import video
from indi_edge.cpu_features import cpu_features
from indi_edge.restorer import Restorer

WARMUP = 100


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


class Sampler:
    """Peak RSS since mark(), sampled in a thread."""

    def __init__(self):
        self.peak, self.stop = 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())

    def mark(self) -> float:
        self.peak = rss_mb()
        return self.peak


def soak_restorer(model: str, frames: int, size: int) -> dict:
    restorer = Restorer(model, steps=1)
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(8)]
    sampler = Sampler()
    sampler.thread.start()
    start = time.perf_counter()
    for i in range(frames):
        if i == WARMUP:
            after_warmup = sampler.mark()
        out = restorer.run(pool[i % len(pool)])
        assert out.shape == pool[0].shape
    end = rss_mb()
    sampler.stop.set()
    return {"frames": frames, "size": f"{size}x{size}", "seconds": time.perf_counter() - start,
            "rss_after_warmup_mb": after_warmup, "rss_end_mb": end, "rss_peak_mb": sampler.peak,
            "growth_mb": end - after_warmup}


def soak_video(model: str, frames: int, size: int, work: Path) -> dict:
    rng = np.random.default_rng(1)
    pool = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(8)]
    src = video.write_frames(work / "soak_in.mkv", (pool[i % 8] for i in range(frames)), 30.0)
    restorer = Restorer(model, steps=1)
    warm = video.restore_video(restorer, src, work / "warm.mp4", progress=False, max_frames=WARMUP)
    sampler = Sampler()
    sampler.thread.start()
    before = sampler.mark()
    start = time.perf_counter()
    summary = video.restore_video(restorer, src, work / "soak_out.mp4", progress=False)
    end = rss_mb()
    sampler.stop.set()
    return {"frames": summary["frames"], "warmup_frames": warm["frames"], "size": f"{size}x{size}",
            "seconds": time.perf_counter() - start, "rss_after_warmup_mb": before, "rss_end_mb": end,
            "rss_peak_mb": sampler.peak, "growth_mb": end - before}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="motion-deblur")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--work", default="/tmp/indi_edge_soak")
    parser.add_argument("--out")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result = {"command": results_io.command("soak.py", argv),
              "cpu": cpu_features().model, "model": args.model,
              "restorer": soak_restorer(args.model, args.frames, args.size),
              "video": soak_video(args.model, args.frames, args.size, work)}
    lines = [f"Soak on {result['cpu']}: {args.frames} frames {args.size}x{args.size}, {args.model} N=1.",
             f"Command: `{result['command']}`", "",
             "| path | frames | s | RSS after warm-up (MB) | end | peak | growth (MB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("restorer", "video"):
        r = result[name]
        lines.append(f"| {name} | {r['frames']} | {r['seconds']:.1f} | {r['rss_after_warmup_mb']:.1f} | "
                     f"{r['rss_end_mb']:.1f} | {r['rss_peak_mb']:.1f} | {r['growth_mb']:+.1f} |")
    text = "\n".join(lines)
    print(text)
    results_io.save(args.out, "soak", args.tag, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
