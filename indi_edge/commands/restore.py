"""indi-edge restore: an image, a folder of images, a video file or a camera -> restored output."""
from __future__ import annotations

from pathlib import Path

HELP = "Restore an image, a folder of images and videos, a video file or stream URL, or a camera (--camera N)."


def add_arguments(parser) -> None:
    from indi_edge.backends.choice import CPU_PATHS

    parser.add_argument("src", nargs="?",
                        help="image, folder of images and videos, video file, or stream URL (rtsp://...; omit with --camera)")
    parser.add_argument("-o", "--output", required=True,
                        help="image file, folder, or video file (.mp4/.mov H.264, .mkv FFV1 lossless, .webm VP9, .avi MJPEG)")
    parser.add_argument("--camera", type=int, metavar="N", help="read from camera N instead of SRC")
    parser.add_argument("--model", default="motion-deblur", help="bundled model name or .onnx/.pt2 file")
    parser.add_argument("--trust-model", action="store_true",
                        help="allow a .pt2 model: opening one runs code from the file (ONNX and engines need no trust)")
    parser.add_argument("--steps", type=int, help="InDI steps (default: the model's)")
    parser.add_argument("--budget-ms", type=float, metavar="MS",
                        help="per-frame latency budget: per frame size, the most steps (1-8) that fit (replaces --steps)")
    parser.add_argument("--eps", type=float, help="noise level (default: the model's)")
    parser.add_argument("--strength", type=float,
                        help="in (0, 1]: below 1, stop that far along InDI's path from the input to the "
                             "restoration (gentler; default: the model's, `indi-edge info` shows it)")
    parser.add_argument("--tile", type=int, help="tile size in pixels (default: automatic for large frames; 0: never)")
    parser.add_argument("--overlap", type=int, help="pixels shared by neighbouring tiles")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (same seed, same output)")
    parser.add_argument("--frozen-noise", action="store_true", help="one noise field for all frames (no flicker)")
    parser.add_argument("--compare", action="store_true", help="write before | after side by side")
    parser.add_argument("--max-frames", type=int, help="stop a video or camera after this many frames (>= 1)")
    parser.add_argument("--codec", choices=("h264", "h265", "av1", "vp9", "ffv1", "mjpeg"),
                        help="video codec (default: from the output's extension)")
    parser.add_argument("--crf", type=int, help="quality of h264/h265/av1/vp9 (lower: better, bigger; default 18/20/28/28)")
    parser.add_argument("--realtime", action="store_true",
                        help="play a video file at its own rate as a live source: frames the restorer cannot "
                             "keep up with are dropped and counted (cameras and streams always run so)")
    parser.add_argument("--serial", action="store_true",
                        help="decode, restore and encode one after another (default: overlapped in threads)")
    parser.add_argument("--providers", nargs="+", help="ONNX Runtime execution providers to ask for")
    parser.add_argument("--backend", default="auto",
                        choices=("auto", *CPU_PATHS),
                        help="how an .onnx model runs on the CPU (auto: the fastest path for this CPU; default %(default)s)")
    scale = parser.add_argument_group("many files over Ray (indi_edge/scale_ray.py; the [ray] extra)")
    scale.add_argument("--ray", action="store_true",
                       help="restore a folder (or a .txt list of paths) over Ray Data: one task per image or video")
    scale.add_argument("--ray-actors", type=int, default=2, help="actors, each with its own Restorer (default %(default)s)")
    scale.add_argument("--ray-address", help="a Ray cluster to join (auto, ray://host:10001); default: a local Ray")
    scale.add_argument("--ray-gpus-per-actor", type=float, default=0.0, help="GPUs per actor where the cluster has them")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    from indi_edge import video
    import indi_edge.video.sources  # noqa: F401 - video.sources.is_live_url
    from indi_edge.restorer import Restorer

    if (args.src is None) == (args.camera is None):
        raise ValueError("give exactly one source: SRC (image, folder, video or stream URL) or --camera N")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.budget_ms is not None and args.steps is not None:
        raise ValueError("--budget-ms chooses the step count itself: drop --steps")
    src = args.camera if args.camera is not None else args.src
    stream = isinstance(src, int) or video.sources.is_live_url(src)
    if not stream:
        src = Path(src)
        if not src.exists():
            raise FileNotFoundError(f"no image, folder or video at {src}")
    out = Path(args.output)
    if args.ray:
        return ray_main(args, src, out)
    restorer = Restorer(args.model, steps=args.steps, eps=args.eps, seed=args.seed, tile=args.tile,
                        overlap=args.overlap, frozen_noise=args.frozen_noise, providers=args.providers,
                        backend=args.backend, budget_ms=args.budget_ms, trust=args.trust_model, strength=args.strength)
    video_options = dict(codec=args.codec, crf=args.crf, pipelined=not args.serial, max_frames=args.max_frames)
    status, budget_ms, choices = 0, args.budget_ms, restorer.budget_choices
    if stream or src.suffix.lower() in video.READ_VIDEO_SUFFIXES:
        summary = video.restore_video(restorer, src, out, compare=args.compare, progress=not args.quiet,
                                      realtime=args.realtime, live_budget=args.steps is None, **video_options)
        print(f"wrote {summary['frames']} frames at {summary['fps']:g} fps, {summary['width']}x{summary['height']} "
              f"{summary['codec']}, to {out} ({summary['frames'] / summary['seconds']:.1f} frames/s)")
        budget_ms, choices = summary["budget_ms"], summary["budget_choices"].copy
        if summary["dropped"]:
            print(f"dropped {summary['dropped']} frames that came while the restorer was busy")
        if summary["stopped_by"]:
            print(f"the source stopped early ({summary['stopped_by']}); {out} holds the {summary['frames']} "
                  f"frames written before it, complete and playable")
            status = 1 if not summary["stopped_by"].startswith("stopped by Ctrl-C") else 0
    elif src.is_dir():
        written = video.restore_folder(restorer, src, out, compare=args.compare, progress=not args.quiet,
                                       **video_options)
        print(f"wrote {len(written)} files to {out}")
    elif src.suffix.lower() in video.IMAGE_SUFFIXES:
        print(f"wrote {video.restore_image(restorer, src, out, compare=args.compare)}")
    else:
        raise ValueError(f"{src}: expected an image {video.IMAGE_SUFFIXES}, a folder, or a video "
                         f"{video.READ_VIDEO_SUFFIXES}")
    for size, choice in choices().items():
        print(f"budget {budget_ms:g} ms, {size}: N={choice['steps']}"
              + (f" (p90 {choice['p90_ms']:.1f} ms/frame)" if choice["settled"] else " (still measuring)"))
    return status


def ray_main(args, src, out: Path) -> int:
    from indi_edge import video
    from indi_edge.scale_ray import RayOptions, restore_files
    from indi_edge.video.paths import refuse_overwriting_inputs

    if isinstance(src, int) or not (src.is_dir() or src.suffix == ".txt"):
        raise ValueError("--ray restores a folder, or a .txt file listing images and videos (one path a line)")
    wanted = video.IMAGE_SUFFIXES + video.READ_VIDEO_SUFFIXES
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in wanted)
    else:
        files = [Path(line.strip()) for line in src.read_text().splitlines() if line.strip()]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{src} lists files that do not exist: {missing[:3]}")
    if not files:
        raise FileNotFoundError(f"no images or videos in {src}")
    pairs = [(f, out / f.name) for f in files]
    if len({dst for _, dst in pairs}) != len(pairs):
        raise ValueError(f"{src} lists two files of the same name; they would write the same output")
    refuse_overwriting_inputs(pairs)
    out.mkdir(parents=True, exist_ok=True)
    restorer_kwargs = dict(steps=args.steps, eps=args.eps, seed=args.seed, strength=args.strength, tile=args.tile, overlap=args.overlap,
                           frozen_noise=args.frozen_noise, backend=args.backend, trust=args.trust_model)
    video_kwargs = dict(codec=args.codec, crf=args.crf, max_frames=args.max_frames, pipelined=not args.serial)
    rows = restore_files(pairs, args.model, restorer_kwargs=restorer_kwargs, video_kwargs=video_kwargs,
                         compare=args.compare, options=RayOptions(actors=args.ray_actors, address=args.ray_address,
                                                                  gpus_per_actor=args.ray_gpus_per_actor))
    print(f"wrote {len(rows)} files ({sum(r['frames'] for r in rows)} frames) to {out} over Ray "
          f"with {args.ray_actors} actors")
    return 0
