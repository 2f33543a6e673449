"""indi-edge toy: redraw the paper's Fig. 1 (2-D toy) with the closed-form posterior mean and
the package's own sampler (indi_edge.sampling.iterate)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

HELP = "Draw the paper's Fig. 1: the 2-D toy restored by regression (1 step) and by InDI iteration."

PATHS_SHOWN = 12  # restoration paths drawn per panel; more hide the end points


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--steps", type=int, default=100, help="InDI steps N (delta = 1/N)")
    parser.add_argument("--samples", type=int, default=200, help="observations per panel")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples")


def main(args) -> int:
    from indi_edge.training import toy

    if args.steps < 1 or args.samples < 1:
        raise ValueError(f"--steps and --samples must be >= 1, got {args.steps} and {args.samples}")
    output = Path(args.output)
    if not output.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {output.parent}")
    rng = np.random.default_rng(args.seed)
    panels = [
        ("(a) denoising, H = I", toy.denoising_problem()),
        ("(b) missing information, H = [1, 0; 0, 0]", toy.missing_information_problem()),
    ]
    figure = _new_figure(len(panels))
    for axes, (title, problem) in zip(figure.axes, panels):
        _, y = problem.sample(rng, args.samples)
        path = restoration_path(problem, y, args.steps)
        _draw_panel(axes, title, problem, y, path, shown=min(PATHS_SHOWN, args.samples))
    # One legend below the panels, so it never covers a mode.
    figure.legend(*figure.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize="small")
    _save_png_atomically(figure, output)
    print(f"wrote {output}")
    return 0


def restoration_path(problem, y: np.ndarray, steps: int) -> np.ndarray:
    """x_t for t = 1, 1-1/N, ..., 0 from sampling.iterate: [steps + 1, n, 2] float64."""
    from indi_edge import sampling

    return np.stack([x for _, x in sampling.iterate(problem.posterior_mean, y, steps)])


def _new_figure(panels: int):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise RuntimeError("indi-edge toy draws with matplotlib: pip install matplotlib") from err
    figure = Figure(figsize=(5.0 * panels, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # Agg without pyplot: no GUI backend, no global state
    figure.subplots(1, panels)
    return figure


def _draw_panel(axes, title: str, problem, y: np.ndarray, path: np.ndarray, shown: int) -> None:
    """One panel of Fig. 1: observed y, regression E[x|y], iterated end points, modes, paths."""
    regression = problem.posterior_mean(y, 1.0)  # one step of N = 1 is exactly this
    for k in range(shown):
        axes.scatter(path[:, k, 0], path[:, k, 1], s=2, color="tab:green", zorder=1,
                     label="restoration path" if k == 0 else None)
    axes.scatter(y[:, 0], y[:, 1], s=8, color="tab:blue", alpha=0.6, zorder=2, label="observed y")
    axes.scatter(regression[:, 0], regression[:, 1], s=8, color="tab:red", zorder=3, label="regression E[x|y]")
    axes.scatter(path[-1, :, 0], path[-1, :, 1], s=60, facecolors="none", edgecolors="black", zorder=4,
                 label=f"iterated end points (N={len(path) - 1})")
    axes.scatter(problem.centers[:, 0], problem.centers[:, 1], s=40, color="tab:orange", zorder=5, label="modes")
    axes.set_title(title)
    axes.set_aspect("equal", adjustable="datalim")


def _save_png_atomically(figure, output: Path) -> None:
    """Write beside the target, then rename, so a reader never sees half a PNG."""
    temp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    handle = open(temp, "xb")  # "x": never clobber another writer's file; keeps the umask
    try:
        with handle:
            figure.savefig(handle, format="png")
        os.replace(temp, output)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
