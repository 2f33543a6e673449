"""Compare motion-deblur weights (fine-tune candidates) on the held-out protocol, the training photos and video frames.

For each weights file: N=1 gain over the blurred input on the held-out images (mean and worst image),
per blur-extent bucket (mean, worst) and sharp pass-through, then the same mean gain on the training
photos (`eval --split train`). A training-photo gain far above the held-out one is memorised, not learnt;
a run whose held-out gain falls while its training-photo gain rises is overfitting the 20 photos.
Last, the video frames (`eval --split video`): mean and worst gain, the small-blur bucket (where
out-of-focus footage suffers from a network that sharpens every soft edge) and sharp pass-through.

    python benchmarks/finetune_compare.py bundled=indi_edge/models/motion-deblur.safetensors \\
        l2=runs/ft-l2/weights.safetensors --out benchmarks/results --tag zen4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results_io  # noqa: E402


def n1_gains(result: dict) -> dict[str, float]:
    """Per-image PSNR gain of `indi N=1` over the input in an evaluate() result."""
    rows = {(r["method"], r["steps"]): r["per_image"] for r in result["rows"]}
    before, after = rows[("input", None)], rows[("indi", 1)]
    return {name: after[name]["psnr"] - before[name]["psnr"] for name in before}


def score(weights: Path) -> dict:
    from indi_edge.training import evaluate

    model_fn, _ = evaluate.load_model(weights)
    heldout = n1_gains(evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False))
    sweep = evaluate.extent_sweep(model_fn, steps=(1,))
    train = n1_gains(evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False,
                                       split="train"))
    video = n1_gains(evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False,
                                       split="video"))
    video_sweep = evaluate.extent_sweep(model_fn, steps=(1,), split="video")
    return {
        "heldout_gain": float(np.mean(list(heldout.values()))), "heldout_worst": float(min(heldout.values())),
        "heldout_worst_image": min(heldout, key=heldout.get), "heldout_per_image": heldout,
        "buckets": {label: {"gain": b["N=1"]["gain"], "worst": b["N=1"]["worst_gain"]} for label, b in sweep["buckets"].items()},
        "sharp_db": sweep["sharp"]["N=1"]["psnr_vs_input"],
        "train_gain": float(np.mean(list(train.values()))), "train_worst": float(min(train.values())),
        "video_gain": float(np.mean(list(video.values()))), "video_worst": float(min(video.values())),
        "video_per_image": video,
        "video_buckets": {label: {"gain": b["N=1"]["gain"], "worst": b["N=1"]["worst_gain"]}
                          for label, b in video_sweep["buckets"].items()},
        "video_sharp_db": video_sweep["sharp"]["N=1"]["psnr_vs_input"],
    }


def table(rows: dict[str, dict]) -> str:
    labels = list(next(iter(rows.values()))["buckets"])
    lines = ["| weights | held-out N=1 gain (worst image) | " + " | ".join(labels) + " | sharp | training photos N=1 gain | gap "
             "| video N=1 (worst) | video " + labels[0] + " | video sharp |",
             "|---|---:|" + "---:|" * len(labels) + "---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        buckets = " | ".join(f"{r['buckets'][k]['gain']:+.2f} ({r['buckets'][k]['worst']:+.2f})" for k in labels)
        lines.append(f"| {name} | {r['heldout_gain']:+.2f} ({r['heldout_worst']:+.2f} {r['heldout_worst_image']}) | "
                     f"{buckets} | {r['sharp_db']:.1f} dB | {r['train_gain']:+.2f} | {r['train_gain'] - r['heldout_gain']:.2f} | "
                     f"{r['video_gain']:+.2f} ({r['video_worst']:+.2f}) | {r['video_buckets'][labels[0]]['gain']:+.2f} "
                     f"({r['video_buckets'][labels[0]]['worst']:+.2f}) | {r['video_sharp_db']:.1f} dB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", metavar="NAME=PATH", help="a label and a .safetensors file")
    parser.add_argument("--out", help="folder for finetune_compare_TAG.{json,md}")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    rows = {}
    for item in args.weights:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"give each weights file as NAME=PATH, got {item!r}")
        rows[name] = {"path": path, **score(Path(path))}
        print(table({name: rows[name]}).splitlines()[-1], flush=True)
    text = table(rows)
    print("\n" + text)
    results_io.save(args.out, "finetune_compare", args.tag, {"command": results_io.command("finetune_compare.py", argv),
                                                              "rows": rows}, text)


if __name__ == "__main__":
    main()
