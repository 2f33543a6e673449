"""indi-edge demo: restore a built-in held-out image and a short clip made from it, degraded as the model's task."""
from __future__ import annotations

from pathlib import Path

HELP = ("Degrade a built-in held-out image and a short panning clip as the model's task does (camera shake for "
        "motion-deblur), restore them; write before/after PNGs and videos.")


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", default="indi-edge-demo", help="output folder (default: %(default)s)")
    parser.add_argument("--model", default="motion-deblur", help="bundled model name or .onnx/.pt2 file")
    parser.add_argument("--steps", type=int, help="InDI steps (default: the model's)")
    parser.add_argument("--image", help="held-out image of the before/after PNGs and the clip (default: the first, "
                                        "barbara); every held-out image is scored either way")
    parser.add_argument("--size", type=int, default=256, help="side of the square crop, pixels (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=24, help="frames in the clip (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the blur kernels and camera path")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def degrade_frame(crop, task: str, rng):
    """uint8 BGR frame: `crop` (float32 RGB [0, 1]) degraded as the model was trained (motion-deblur:
    a mild camera shake of 4-16 px, as in handheld video; other tasks: their training distribution)."""
    import numpy as np

    from indi_edge.training.data import degrade, tasks

    if task == "motion-deblur":
        kernel = degrade.motion_blur_kernel(rng, 31, length=rng.uniform(4.0, 16.0))
        out = degrade.blur(crop, kernel)
    else:
        out = tasks.get_task(task).draw(rng).apply(crop)
    return np.ascontiguousarray(degrade.to_uint8(out)[..., ::-1])


def degraded_clip(image, frames: int, size: int, task: str, rng):
    """uint8 BGR [size, size, 3] frames: a slow pan over `image` (float32 RGB [0, 1]) with hand
    jitter, each frame degraded on its own (degrade_frame)."""
    import numpy as np

    h, w = image.shape[:2]
    room_y, room_x = max(h - size, 0), max(w - size, 0)
    clip = []
    for k in range(frames):
        pan = k / max(frames - 1, 1)
        top = int(np.clip(room_y / 2 + rng.normal(0, 3), 0, room_y))
        left = int(np.clip(room_x * (0.25 + 0.5 * pan) + rng.normal(0, 3), 0, room_x))
        clip.append(degrade_frame(image[top:top + size, left:left + size], task, rng))
    return clip


def centre_crop(image, size: int):
    side = min(size, image.shape[0], image.shape[1])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top:top + side, left:left + side]


def still(restorer, image, size: int, task: str, rng):
    """(clean, degraded, restored, PSNR degraded, PSNR restored): the centre crop of `image`, uint8 BGR."""
    import numpy as np

    from indi_edge import metrics
    from indi_edge.training.data import degrade

    crop = centre_crop(image, size)
    clean = np.ascontiguousarray(degrade.to_uint8(crop)[..., ::-1])
    degraded = degrade_frame(crop, task, rng)
    restored = restorer.run(degraded)
    before, after = (metrics.psnr(x.astype(np.float32), clean.astype(np.float32), 255.0) for x in (degraded, restored))
    return clean, degraded, restored, before, after


def demo_task(info) -> str:
    """The degradation to demonstrate: the model's task; a custom model gets camera shake."""
    from indi_edge.training.data import tasks

    return info.task if info.task in tasks.TASKS else "motion-deblur"


def main(args) -> int:
    import numpy as np

    from indi_edge import video
    from indi_edge.restorer import Restorer
    from indi_edge.training.data import corpus

    if args.size < 16 or args.frames < 1:
        raise ValueError(f"expected --size >= 16 and --frames >= 1, got {args.size} and {args.frames}")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    restorer = Restorer(args.model, steps=args.steps, seed=args.seed, frozen_noise=True)
    task = demo_task(restorer.info)
    images = dict(corpus.heldout_images())
    name = args.image or next(iter(images))
    if name not in images:
        raise ValueError(f"--image must be a held-out image ({', '.join(images)}), got {name!r}")
    scores = {}
    for index, (other, image) in enumerate(images.items()):  # each image its own draw: --image changes no score
        clean, degraded, restored, *scores[other] = still(restorer, image, args.size, task,
                                                           np.random.default_rng([args.seed, index]))
        if other == name:
            for file, img in (("clean.png", clean), ("before.png", degraded), ("after.png", restored),
                              ("compare.png", video.side_by_side(degraded, restored))):
                video.write_image(out / file, img)
    before, after = scores[name]
    side = centre_crop(images[name], args.size).shape[0]
    held = "" if restorer.strength == 1.0 else f" at the model's strength {restorer.strength:g}"
    print(f"{name} {side}x{side}, {task}, {restorer.steps} steps{held}: PSNR degraded {before:.2f} dB -> restored "
          f"{after:.2f} dB ({out / 'compare.png'})")
    gains = {other: after - before for other, (before, after) in scores.items()}
    print(f"all {len(gains)} held-out images, one draw each: mean gain {np.mean(list(gains.values())):+.2f} dB, "
          f"{sum(g > 0 for g in gains.values())} better, worst {min(gains, key=gains.get)} {min(gains.values()):+.2f} dB")
    print("  " + ", ".join(f"{other} {gain:+.2f}" for other, gain in gains.items()))

    rng = np.random.default_rng(args.seed)
    image = images[name]
    clip = degraded_clip(image, args.frames, side, task, rng)
    video.write_frames(out / "shaky.mkv", clip, 24.0)  # FFV1: lossless input
    summary = video.restore_video(restorer, out / "shaky.mkv", out / "compare.mp4", compare=True,
                                  progress=not args.quiet)
    print(f"clip: {summary['frames']} frames, before | after in {summary['dst']}")
    return 0
