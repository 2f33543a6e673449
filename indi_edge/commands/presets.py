"""indi-edge presets: parameter count and multiply-adds per pixel of every U-Net preset."""
from __future__ import annotations

HELP = "List the U-Net presets with parameters and multiply-adds per output pixel."


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args) -> int:
    import json

    from indi_edge import nn

    rows = []
    for name, config in nn.PRESETS.items():
        model = nn.build(name)
        paper = nn.PAPER_PARAMS.get(name)
        rows.append({
            "preset": name,
            "channels": config.channels,
            "multipliers": list(config.multipliers),
            "res_blocks": config.res_blocks,
            "stem": config.stem,
            "mid_blocks": config.mid_blocks,
            "extra_up": list(config.extra_up),
            "multiple": config.multiple,
            "params": nn.count_parameters(model),
            "paper_params": paper,
            "macs_per_pixel": nn.macs_per_pixel(model),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'preset':<14}{'ch':>4} {'mults':<14}{'res':>4}{'mid':>4} {'extra up':<10}{'stem':>5}{'mult':>5}"
          f"{'params':>10}{'paper':>9}{'diff':>8}{'MAC/px':>10}")
    for r in rows:
        paper = f"{r['paper_params'] / 1e6:.2f}M" if r["paper_params"] else "-"
        diff = f"{100 * (r['params'] / r['paper_params'] - 1):+.1f}%" if r["paper_params"] else "-"
        mults = ",".join(map(str, r["multipliers"]))
        extra = ",".join(map(str, r["extra_up"])) or "-"
        print(f"{r['preset']:<14}{r['channels']:>4} {mults:<14}{r['res_blocks']:>4}{r['mid_blocks']:>4} {extra:<10}"
              f"{r['stem']:>5}{r['multiple']:>5}"
              f"{r['params'] / 1e6:>9.2f}M{paper:>9}{diff:>8}{r['macs_per_pixel'] / 1e3:>9.1f}k")
    return 0
