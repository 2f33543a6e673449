"""indi-edge bench: latency per frame for every CPU path, with the roofline beside each figure."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

HELP = "Benchmark latency per frame (torch eager baseline, ONNX Runtime, .pt2, torch bf16) with roofline floors."

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "indi_edge" / "bench"


def add_arguments(parser) -> None:
    from indi_edge.bench.variants import BACKENDS  # torch-free module constants

    parser.add_argument("--model", default="motion-deblur", help="bundled model name, weights file or run folder")
    parser.add_argument("--out", default="benchmarks/results", help="folder for bench_TAG.json/.md/.png")
    parser.add_argument("--tag", help="name of the result files (default: cpu, or cpu_quick with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 256x256, N=1,2, 5 frames, 3 backends, no option sweep (< 2 min)")
    parser.add_argument("--resolutions", nargs="+", choices=("256", "720p", "1080p"))
    parser.add_argument("--steps", nargs="+", type=int, help="InDI step counts (default 1 2 4 8)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS)
    parser.add_argument("--frames", type=int, help="timed frames per configuration (default 20)")
    parser.add_argument("--warmup", type=int, help="untimed batches before timing (default 2)")
    parser.add_argument("--threads", type=int, help="CPU threads for every backend (default: all cores)")
    parser.add_argument("--batch", type=int, help="throughput mode batch at 256x256 (0: off; default 8)")
    parser.add_argument("--no-experiments", action="store_true", help="skip the option sweep at 720p")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. machine load)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where exported .onnx/.pt2 artifacts are cached")


def main(args) -> int:
    from indi_edge.bench import report
    from indi_edge.bench.run import QUICK, Settings, run

    settings = Settings(**QUICK) if args.quick else Settings()
    overrides = {"resolutions": args.resolutions, "steps": args.steps, "backends": args.backends,
                 "frames": args.frames, "warmup": args.warmup, "threads": args.threads,
                 "throughput_batch": args.batch, "note": args.note or None}
    settings = dataclasses.replace(settings, **{k: tuple(v) if isinstance(v, list) else v
                                                for k, v in overrides.items() if v is not None})
    if args.no_experiments:
        settings = dataclasses.replace(settings, experiments=False)
    result = run(settings, Path(args.cache))
    paths = report.write(result, Path(args.out), args.tag or ("cpu_quick" if args.quick else "cpu"))
    print(report.headline_text(result))
    for kind, path in paths.items():
        print(f"wrote {path} ({kind})")
    return 0
