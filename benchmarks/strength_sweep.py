"""Choose a motion-deblur model's default strength on the video split, and report it on the held-out images.

A restoration held back to strength s is y + s (x0 - y) (Restorer's `strength`). For each s on the grid,
at N=1: the mean and worst gain over the blurred input on the video frames (`eval --split video`) and on the
held-out images, the small-blur bucket and the sharp pass-through of each. The chosen strength is the one
with the best mean gain on the video frames, on a grid of 0.05 from 1.0 to 0.2; the held-out images play no
part in the choice, so their numbers at that strength stay a fair score.

    python benchmarks/strength_sweep.py indi_edge/models/motion-deblur.safetensors --out benchmarks/results --tag zen4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_compare import n1_gains  # noqa: E402

import results_io  # noqa: E402

GRID = tuple(round(1.0 - 0.05 * i, 2) for i in range(17))  # 1.0 ... 0.2: a 0.1 grid left 0.3 and 0.4 tied
SMALL = "<= 8 px"


def score(model_fn, split: str, strength: float) -> dict:
    from indi_edge.training import evaluate

    gains = n1_gains(evaluate.evaluate(model_fn, "motion-deblur", steps=(1,), baselines=False, progress=False,
                                       split=split, strength=strength))
    sweep = evaluate.extent_sweep(model_fn, steps=(1,), split=split, strength=strength)
    small = sweep["buckets"][SMALL]["N=1"]
    return {"gain": float(np.mean(list(gains.values()))), "worst": float(min(gains.values())),
            "worse": sum(g < 0 for g in gains.values()), "per_image": gains,
            "small_gain": small["gain"], "small_worst": small["worst_gain"],
            "sharp_db": sweep["sharp"]["N=1"]["psnr_vs_input"]}


def table(rows: dict[float, dict], chosen: float) -> str:
    lines = ["| strength | video N=1 gain (worst, frames worse) | video ≤ 8 px (worst) | video sharp "
             "| held-out N=1 gain (worst, images worse) | held-out ≤ 8 px (worst) | held-out sharp |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for s, r in rows.items():
        cells = []
        for split in ("video", "heldout"):
            v = r[split]
            cells += [f"{v['gain']:+.2f} ({v['worst']:+.2f}, {v['worse']})", f"{v['small_gain']:+.2f} ({v['small_worst']:+.2f})",
                      f"{v['sharp_db']:.1f} dB"]
        mark = "**" if s == chosen else ""
        lines.append(f"| {mark}{s:g}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nChosen on the video frames (best mean gain): strength {chosen:g}."


def main(argv: list[str] | None = None) -> None:
    from indi_edge.training import evaluate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="motion-deblur .safetensors (scored at full strength before any default)")
    parser.add_argument("--grid", type=float, nargs="+", default=list(GRID), help="strengths to try, in (0, 1]")
    parser.add_argument("--out", help="folder for strength_sweep_TAG.{json,md}")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    model_fn, _ = evaluate.load_model(args.weights)
    rows = {}
    for s in args.grid:
        rows[s] = {split: score(model_fn, split, s) for split in ("video", "heldout")}
        print(f"strength {s:g}: video {rows[s]['video']['gain']:+.2f}, held-out {rows[s]['heldout']['gain']:+.2f}", flush=True)
    chosen = max(rows, key=lambda s: rows[s]["video"]["gain"])
    text = table(rows, chosen)
    print("\n" + text)
    results_io.save(args.out, "strength_sweep", args.tag,
                    {"command": results_io.command("strength_sweep.py", argv), "weights": args.weights,
                     "chosen": chosen, "rows": {str(s): r for s, r in rows.items()}}, text)


if __name__ == "__main__":
    main()
