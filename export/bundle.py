"""Make a trained run a bundled default model: indi_edge/models/NAME.onnx + NAME.safetensors,
with the held-out metrics of `indi-edge eval` and the training facts in both files' metadata.

    python -m indi_edge.export.bundle RUN_OR_WEIGHTS --name motion-deblur --eval eval.json \
        --steps 2 [--strength S] [--train-command "..."] [--train-time "..."] [--train-data "..."]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from indi_edge import models
from indi_edge.export.onnx_export import export_onnx
from indi_edge.export.source import load_model
from indi_edge.training import nn


def metrics_from_eval(report: dict) -> str:
    """The compact table of an `indi-edge eval` report: protocol and mean PSNR/SSIM/detail per method."""
    rows = [{k: r[k] for k in ("method", "steps", "psnr", "ssim", "detail")} for r in report["rows"]]
    protocol = {k: report[k] for k in ("task", "seed", "size", "images", "strength") if k in report}
    compact = {"protocol": protocol, "rows": rows}
    if "extent_sweep" in report:  # motion-deblur: gain per blur-extent bucket, sharp pass-through
        sweep = report["extent_sweep"]
        compact["extent_sweep"] = {
            "buckets": {label: {key: ({"gain": v["gain"], "worst_gain": v["worst_gain"]} if isinstance(v, dict) else v)
                                for key, v in bucket.items()} for label, bucket in sweep["buckets"].items()},
            "sharp": sweep["sharp"]}
    return json.dumps(compact)


def bundle(ckpt: Path, name: str, eval_json: Path, steps: int, strength: float = 1.0, **facts: str) -> tuple[Path, Path]:
    """strength: the model's default Restorer strength; the eval JSON must have been scored with it."""
    model, info = load_model(ckpt)
    report = json.loads(Path(eval_json).read_text())
    scored = report.get("strength", 1.0)
    if scored != strength:
        raise ValueError(f"{eval_json} was scored at strength {scored}, the bundle's default is {strength}: "
                         f"run indi-edge eval --strength {strength}")
    info = info.replace(task=name, steps=steps, strength=strength, metrics=metrics_from_eval(report),
                        **{k: v for k, v in facts.items() if v})
    onnx_path = models.MODELS_DIR / f"{name}.onnx"
    weights_path = models.MODELS_DIR / f"{name}.safetensors"
    export_onnx(model, onnx_path, info)
    nn.save(model, weights_path, info.to_metadata())
    return onnx_path, weights_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--eval", type=Path, required=True, help="JSON written by indi-edge eval")
    parser.add_argument("--steps", type=int, required=True, help="default InDI steps of the bundled model")
    parser.add_argument("--strength", type=float, default=1.0,
                        help="the model's default Restorer strength (chosen on data other than the held-out images)")
    parser.add_argument("--train-command", default="")
    parser.add_argument("--train-time", default="")
    parser.add_argument("--train-data", default="")
    args = parser.parse_args()
    for path in bundle(args.ckpt, args.name, args.eval, args.steps, args.strength, train_command=args.train_command,
                       train_time=args.train_time, train_data=args.train_data):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
