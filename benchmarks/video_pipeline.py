"""Video throughput: the serial loop against the pipelined one (decode | restore | encode threads),
and a live run of the same clip played at its own rate (frames kept and dropped).

    python benchmarks/video_pipeline.py --out benchmarks/results --tag zen4     # ~2 min on 2 cores

The clip: a held-out photo panned across a 1280x720 frame, written as H.264 with an AAC track (so
the remux path runs too). Each loop writes H.264 .mp4 through PyAV, audio copied. Throughput is
frames / wall seconds of the whole restore_video call (open, decode, restore, encode, check).
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

import results_io  # benchmarks/results_io.py, beside this script
from indi_edge import video
from indi_edge.cpu_features import cpu_features
from indi_edge.restorer import Restorer
from indi_edge.training.data import corpus, degrade


def make_clip(path: Path, width: int, height: int, frames: int, fps: float) -> Path:
    """A pan over a held-out photo with AAC audio (a 440 Hz tone)."""
    import av

    _, image = corpus.heldout_images()[0]
    photo = degrade.to_uint8(image)[..., ::-1]
    scale = 1.3 * max(width / photo.shape[1], height / photo.shape[0])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    span = photo.shape[1] - width
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = out.add_stream("aac", rate=48000)
        for i in range(frames):
            left = int(span * i / max(1, frames - 1))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[:height, left:left + width]), format="bgr24")
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        samples = int(48000 * frames / fps)
        tone = np.sin(2 * np.pi * 440 * np.arange(samples) / 48000).astype(np.float32)
        for start in range(0, samples - 1024, 1024):
            sound = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 48000, start
            out.mux(a.encode(sound))
        out.mux(a.encode(None))
    return path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="motion-deblur")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each loop, alternating")
    parser.add_argument("--work", default="/tmp/indi_edge_video_bench")
    parser.add_argument("--out", help="folder for video_pipeline_<tag>.{json,md}")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    clip = make_clip(work / "pan.mp4", width, height, args.frames, args.fps)
    restorer = Restorer(args.model, steps=args.steps)
    frames = [f.image for f in video.sources.PyAvSource(clip).items() if isinstance(f, video.sources.Frame)]
    restorer.run(frames[0])  # warm-up: sessions, compiled shapes
    restore_only = timed(lambda: [restorer.run(f) for f in frames])
    loops = {"serial": [], "pipelined": []}
    for _ in range(args.repeats):
        for name in loops:
            loops[name].append(timed(lambda: video.restore_video(
                restorer, clip, work / f"{name}.mp4", progress=False, pipelined=name == "pipelined")))
    fps = {name: args.frames / statistics.median(seconds) for name, seconds in loops.items()}
    live_restorer = Restorer(args.model)  # no steps given: the live run's budget (one frame interval) picks N
    live = video.restore_video(live_restorer, clip, work / "live.mp4", realtime=True, progress=False)
    result = {
        "command": results_io.command("video_pipeline.py", argv),
        "cpu": cpu_features().model, "cpu_features": dataclasses.asdict(cpu_features()), "machine": platform.machine(), "backend": "+".join(restorer.providers),
        "model": args.model, "steps": args.steps, "size": args.size, "frames": args.frames, "clip_fps": args.fps,
        "restore_only_fps": args.frames / restore_only,
        "seconds": loops, "fps": fps, "pipelined_over_serial": fps["pipelined"] / fps["serial"],
        "live": {k: live[k] for k in ("frames", "dropped", "budget_ms", "budget_choices", "seconds")},
    }
    text = markdown(result)
    print(text)
    results_io.save(args.out, "video_pipeline", args.tag, result, text)
    return 0


def features(r: dict) -> str:
    return ", ".join(k for k, v in r["cpu_features"].items() if v is True) or "no SIMD flags read"


def threads() -> int:
    import os

    return len(os.sched_getaffinity(0))


def markdown(r: dict) -> str:
    live = r["live"]
    chosen = ", ".join(f"{k}: N={v['steps']}" for k, v in live["budget_choices"].items()) or "-"
    return "\n".join([
        f"Video loop on {r['cpu']} ({r['machine']}, {features(r)}, {threads()} cores), {r['model']} N={r['steps']} via {r['backend']}, "
        f"{r['frames']} frames {r['size']} H.264 + AAC in and out.",
        f"Command: `{r['command']}`",
        "",
        "| loop | frames/s | runs (s) |",
        "|---|---:|---|",
        f"| restore only (frames in memory) | {r['restore_only_fps']:.2f} | - |",
        *(f"| {name} (decode, restore, encode, check) | {r['fps'][name]:.2f} | "
          f"{', '.join(f'{s:.2f}' for s in r['seconds'][name])} |" for name in ("serial", "pipelined")),
        "",
        f"Pipelined over serial: **{r['pipelined_over_serial']:.2f}x** (medians, measured in one run).",
        "",
        f"Live: the clip played at its own {r['clip_fps']:g} fps with a {live['budget_ms']:.1f} ms budget "
        f"({chosen}): {live['frames']} frames restored and written, {live['dropped']} dropped.",
    ])


if __name__ == "__main__":
    sys.exit(main())
