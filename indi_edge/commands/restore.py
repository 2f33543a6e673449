"""indi-edge restore: an image, a folder of images, a video file or a camera -> restored output."""
from __future__ import annotations

from pathlib import Path

HELP = "Restore an image, a folder of images, a video file or a camera stream (--camera N)."


def add_arguments(parser) -> None:
    from indi_edge.backends.choice import CPU_PATHS

    parser.add_argument("src", nargs="?", help="image, folder of images, or video file (omit with --camera)")
    parser.add_argument("-o", "--output", required=True,
                        help="image file, folder, or video file (.mp4 mp4v, .avi MJPG, .mkv FFV1 lossless)")
    parser.add_argument("--camera", type=int, metavar="N", help="read from camera N instead of SRC")
    parser.add_argument("--model", default="motion-deblur", help="bundled model name or .onnx/.pt2 file")
    parser.add_argument("--steps", type=int, help="InDI steps (default: the model's)")
    parser.add_argument("--budget-ms", type=float, metavar="MS",
                        help="per-frame latency budget: per frame size, the most steps (1-8) that fit (replaces --steps)")
    parser.add_argument("--eps", type=float, help="noise level (default: the model's)")
    parser.add_argument("--tile", type=int, help="tile size in pixels (default: automatic for large frames; 0: never)")
    parser.add_argument("--overlap", type=int, help="pixels shared by neighbouring tiles")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (same seed, same output)")
    parser.add_argument("--frozen-noise", action="store_true", help="one noise field for all frames (no flicker)")
    parser.add_argument("--compare", action="store_true", help="write before | after side by side")
    parser.add_argument("--max-frames", type=int, help="stop a video or camera after this many frames")
    parser.add_argument("--providers", nargs="+", help="ONNX Runtime execution providers to ask for")
    parser.add_argument("--backend", default="auto",
                        choices=("auto", *CPU_PATHS),
                        help="how an .onnx model runs on the CPU (auto: the fastest path for this CPU; default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    from indi_edge import video
    from indi_edge.restorer import Restorer

    if (args.src is None) == (args.camera is None):
        raise ValueError("give exactly one source: SRC (image, folder or video) or --camera N")
    src = args.camera if args.camera is not None else Path(args.src)
    if not isinstance(src, int) and not src.exists():
        raise FileNotFoundError(f"no image, folder or video at {src}")
    restorer = Restorer(args.model, steps=args.steps, eps=args.eps, seed=args.seed, tile=args.tile,
                        overlap=args.overlap, frozen_noise=args.frozen_noise, providers=args.providers,
                        backend=args.backend, budget_ms=args.budget_ms)
    if args.budget_ms is not None and args.steps is not None:
        raise ValueError("--budget-ms chooses the step count itself: drop --steps")
    out = Path(args.output)
    if isinstance(src, int) or src.suffix.lower() in video.READ_VIDEO_SUFFIXES:
        summary = video.restore_video(restorer, src, out, compare=args.compare, progress=not args.quiet,
                                      max_frames=args.max_frames)
        print(f"wrote {summary['frames']} frames at {summary['fps']:g} fps, "
              f"{summary['width']}x{summary['height']}, to {out}")
    elif src.is_dir():
        written = video.restore_folder(restorer, src, out, compare=args.compare, progress=not args.quiet)
        print(f"wrote {len(written)} images to {out}")
    elif src.suffix.lower() in video.IMAGE_SUFFIXES:
        print(f"wrote {video.restore_image(restorer, src, out, compare=args.compare)}")
    else:
        raise ValueError(f"{src}: expected an image {video.IMAGE_SUFFIXES}, a folder, or a video "
                         f"{video.READ_VIDEO_SUFFIXES}")
    for size, choice in restorer.budget_choices().items():
        print(f"budget {args.budget_ms:g} ms, {size}: N={choice['steps']}"
              + (f" (p90 {choice['p90_ms']:.1f} ms/frame)" if choice["settled"] else " (still measuring)"))
    return 0
