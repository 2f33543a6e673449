"""indi-edge presets: parameter count and multiply-adds per pixel of every U-Net preset."""
from __future__ import annotations

HELP = "List the U-Net presets with parameters and multiply-adds per output pixel."


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args) -> int:
    import json

    from indi_edge.training import nn

    rows = []
    for name, config in nn.PRESETS.items():
        model = nn.build(name)
        paper = nn.PAPER_PARAMS.get(name)
        rows.append({
            "preset": name,
            "arch": "naf" if isinstance(config, nn.NAFConfig) else "unet",
            "channels": config.channels,
            "multipliers": list(config.multipliers),
            "blocks": blocks(config),
            "stem": config.stem,
            "multiple": config.multiple,
            "params": nn.count_parameters(model),
            "paper_params": paper,
            "macs_per_pixel": nn.macs_per_pixel(model),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'preset':<14}{'arch':<6}{'ch':>4} {'mults':<12}{'blocks':<22}{'stem':>5}{'mult':>5}"
          f"{'params':>10}{'paper':>9}{'diff':>8}{'MAC/px':>10}")
    for r in rows:
        paper = f"{r['paper_params'] / 1e6:.2f}M" if r["paper_params"] else "-"
        diff = f"{100 * (r['params'] / r['paper_params'] - 1):+.1f}%" if r["paper_params"] else "-"
        mults = ",".join(map(str, r["multipliers"]))
        print(f"{r['preset']:<14}{r['arch']:<6}{r['channels']:>4} {mults:<12}{r['blocks']:<22}"
              f"{r['stem']:>5}{r['multiple']:>5}"
              f"{r['params'] / 1e6:>9.2f}M{paper:>9}{diff:>8}{r['macs_per_pixel'] / 1e3:>9.1f}k")
    return 0


def blocks(config) -> str:
    """Blocks per level in one short field: edge-s's res/mid/extra-up, or NAF's enc/middle/dec (+dense)."""
    if hasattr(config, "enc_blocks"):
        enc, dec = (",".join(map(str, b)) for b in (config.enc_blocks, config.dec_blocks))
        return f"{enc}/{config.middle_blocks}/{dec}" + (" dense" if config.dense else "")
    extra = ",".join(map(str, config.extra_up)) or "-"
    return f"res {config.res_blocks} mid {config.mid_blocks} +{extra}"
