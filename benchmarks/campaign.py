"""A training campaign measured as a curve: train in segments of CPU time, score after each, plot.

Each segment resumes the run (`indi-edge train ... --resume --cpu-limit SEG`), then scores the EMA
weights at N=1 on the held-out protocol and on the video split (gain over the degraded input, mean
and worst image, at strength 1). One CSV row per segment. CPU-hours count the training processes
only, all threads, from the run's own log (each process logs its CPU seconds from 0: the total is
the sum of each process's last value), so scoring and the machine's other work do not inflate
them, and a segment cut off with its session still counts what it spent (the steps after its last
checkpoint are trained again). A segment trained but not scored (cut off while scoring) is scored
first, and labelled with the CPU that trained it (RUN/trained_on.txt), not the one scoring it. The
curve grows across sessions: commit RUN's checkpoint, the CSV and the PNG.

A branch (--branch-of BASE) starts from BASE's current EMA weights, copied once into RUN/init.safetensors
(with BASE's step and CPU-hours in RUN/branch.json), and is scored on the campaign's axis: BASE's CPU-hours
at the branch point plus the branch's own. It is how a learning-rate decay is tried off a constant-lr
campaign without stopping it for good; it ends when its --steps are done. Without RUN, a branch is named
by the campaign step it leaves from, BASE-decay-<step> (its curve CURVE-<step>), or resumes the one of
them still unfinished; the campaign's own plot draws every branch beside it (CURVE_decay*, and CURVE_grown*
for a deeper net grown from the campaign's weights: --preset names it, nn.load_grown copies them in).

    python benchmarks/campaign.py RUN --curve benchmarks/results/campaign_motion --segment 30 \\
        --until-cpu-h 8 -- --task motion-deblur --preset naf-s-dense --lr 1e-3 ...   # train args after --
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

FIELDS = ("segment", "step", "cpu_h", "wall_h", "heldout_gain", "heldout_worst", "video_gain", "video_worst",
          "loss", "cpu", "time", "precision", "lr")
# A CPU-hour in fp32 on a CPU without native bf16 (AVX2) buys ~1/5 of the steps one buys in bf16 on AMX
# (results/train_step_zen3.md): the plot marks the segments trained so. Rows from before the column were bf16.
FP32_SEGMENT_NOTE = "trained in fp32 (no native bf16: ~1/5 the steps per CPU-hour)"
FLAT_TOLERANCE_DB = 0.05  # a held-out rise smaller than this counts as flat (the "flat for 2 CPU-hours")
# The CPU that trained the run's latest segment: a segment cut off before its score is scored on the next
# session's machine, which may be another CPU kind, so the CSV's cpu column cannot be the scorer's.
TRAINED_ON = "trained_on.txt"


def rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def train_segment(run: Path, train_args: list[str], minutes: float) -> None:
    """One segment of training (resumed when the run has a checkpoint; a branch starts from its init)."""
    from indi_edge.cpu_features import cpu_features

    resume = ["--resume"] if (run / "checkpoint.safetensors").is_file() else []
    init = ["--init", str(run / "init.safetensors")] if (run / "branch.json").is_file() and not resume else []
    command = [sys.executable, "-m", "indi_edge.cli", "train", *train_args, "--out", str(run), *resume, *init,
               "--cpu-limit", str(minutes), "--quiet"]
    run.mkdir(parents=True, exist_ok=True)
    (run / TRAINED_ON).write_text(cpu_features().model + "\n")
    subprocess.run(command, check=True)


def trained_on(run: Path) -> str:
    """The CPU model that trained the run's latest segment ("not recorded" for runs from before the file)."""
    path = run / TRAINED_ON
    return path.read_text().strip() if path.is_file() else "not recorded"


def cpu_hours(run: Path) -> float:
    """The training CPU-hours in the run's log.jsonl: the sum over its processes of each one's last
    cpu_s (a process's count starts at 0, so a drop marks the next process)."""
    total = last = 0.0
    log = run / "log.jsonl"
    for line in log.read_text().splitlines() if log.is_file() else []:
        cpu = json.loads(line).get("cpu_s")
        if cpu is None:
            continue
        if cpu < last:
            total += last
        last = cpu
    return (total + last) / 3600


def start_branch(run: Path, base: Path) -> float:
    """Copy BASE's EMA weights into RUN once and record where the branch left BASE; returns BASE's
    CPU-hours at that point (the branch's offset on the campaign's axis)."""
    record = run / "branch.json"
    if not record.is_file():
        run.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / "weights.safetensors", run / "init.safetensors")
        record.write_text(json.dumps({"base": base.name, "base_step": checkpoint_step(base),
                                      "base_cpu_h": round(cpu_hours(base), 3)}, indent=2) + "\n")
    return json.loads(record.read_text())["base_cpu_h"]


def branch_run(base: Path, tag: str = "") -> Path:
    """BASE's decay branch to work on: one with this tag still unfinished, else a new one named by the
    step of BASE's checkpoint, where it leaves the campaign: BASE-decay-<step>, or BASE-decay-<step>-<tag>
    for a branch with another recipe (e.g. a different p(t)) off the same step."""
    suffix = f"-{tag}" if tag else ""
    pattern = re.compile(rf"{re.escape(base.name)}-decay-\d+{re.escape(suffix)}")
    unfinished = [run for run in sorted(base.parent.glob(f"{base.name}-decay-*"))
                  if pattern.fullmatch(run.name) and not finished(run)]
    return unfinished[0] if unfinished else base.with_name(f"{base.name}-decay-{checkpoint_step(base)}{suffix}")


def finished(run: Path) -> bool:
    """True once the run's log reaches its configured last step (a finished branch needs only its
    weights, log and config committed, not its 24 MB checkpoint)."""
    config = run / "train_config.json"
    return config.is_file() and (run / "log.jsonl").is_file() \
        and last_log(run)["step"] >= json.loads(config.read_text())["steps"]


def gains(weights: Path, task: str, split: str) -> tuple[float, float]:
    """(mean, worst) N=1 gain in dB over the degraded input on `split`, strength 1."""
    import torch

    from indi_edge.training import evaluate

    torch.set_num_threads(1)  # leave the other core to whatever shares the machine
    model_fn, _ = evaluate.load_model(weights)
    result = evaluate.evaluate(model_fn, task, steps=(1,), baselines=False, progress=False, split=split)
    before, after = result["rows"][0]["per_image"], result["rows"][1]["per_image"]
    diffs = [after[k]["psnr"] - before[k]["psnr"] for k in before]
    return sum(diffs) / len(diffs), min(diffs)


def trained_precision(run: Path) -> str:
    """bf16 or fp32: what the run's last process trained in (--amp auto chooses per CPU)."""
    amp = json.loads((run / "train_config.json").read_text()).get("amp", "off")
    return "fp32" if amp == "off" else amp


def trained_lr(run: Path) -> float:
    """The (peak) learning rate of the run's last process: a campaign steps it down in phases."""
    return float(json.loads((run / "train_config.json").read_text())["lr"])


def last_log(run: Path) -> dict:
    return json.loads((run / "log.jsonl").read_text().splitlines()[-1])


def checkpoint_step(run: Path) -> int:
    """The step of the weights on disk: the checkpoint's, not the log's last line (after a cut-off
    session the log runs past the last checkpoint)."""
    from safetensors import safe_open

    with safe_open(str(run / "checkpoint.safetensors"), "np") as f:
        return int(f.metadata()["step"])


def plot(table: list[dict], path: Path, title: str, references: dict[str, float] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [float(r["cpu_h"]) for r in table]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(hours, [float(r["heldout_gain"]) for r in table], "o-", label="held-out, mean")
    ax.plot(hours, [float(r["video_gain"]) for r in table], "s-", label="video split, mean")
    ax.plot(hours, [float(r["heldout_worst"]) for r in table], ":", color="C0", label="held-out, worst image")
    fp32 = [r for r in table if r.get("precision") == "fp32"]
    if fp32:
        ax.plot([float(r["cpu_h"]) for r in fp32], [float(r["heldout_gain"]) for r in fp32], "o", mfc="white",
                color="C0", label=f"held-out, {FP32_SEGMENT_NOTE}")
    for before, row in zip(table, table[1:]):  # a phase of the campaign at another constant lr starts here
        if before.get("lr") and row.get("lr") and float(before["lr"]) != float(row["lr"]):
            ax.axvline(float(before["cpu_h"]), color="grey", ls="-.", lw=1)
            ax.annotate(f"lr {float(before['lr']):g} -> {float(row['lr']):g}", (float(before["cpu_h"]), 0.02),
                        xycoords=("data", "axes fraction"), rotation=90, fontsize=7, color="grey")
    for i, branch in enumerate(branch_curves(path)):
        table_b = rows(branch)
        ax.plot([float(r["cpu_h"]) for r in table_b], [float(r["heldout_gain"]) for r in table_b], "^-", lw=1,
                color=f"C{i + 5}", label=f"held-out, {branch.stem.removeprefix(path.stem + '_')} branch")
    lost = rows(path.with_name(path.stem + "_lost.csv"))
    if lost:  # scored weights that never landed (checkpoint not committed, or the stop refused)
        ax.plot([float(r["cpu_h"]) for r in lost], [float(r["heldout_gain"]) for r in lost], "x", color="grey",
                label="held-out, weights that never landed (lost)")
    ax.axhline(0, color="grey", lw=0.5)
    for i, (label, gain) in enumerate((references or {}).items()):  # what the model is to beat, same protocol
        ax.axhline(gain, color=f"C{i + 2}", ls="--", lw=1, label=label)
    flat_h, flat_steps = flat_stretch(table)
    ax.set(xlabel=f"training CPU-hours (held-out flat within {FLAT_TOLERANCE_DB} dB for the last {flat_h:.2f}, "
                  f"{flat_steps} steps)", ylabel="gain over the degraded input at N=1 (dB)", title=title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, not over them
    fig.tight_layout()
    partial = path.with_name(path.stem + ".partial.png")
    fig.savefig(partial, dpi=100)
    plt.close(fig)
    partial.replace(path)


def branch_curves(path: Path) -> list[Path]:
    """The curves drawn beside the campaign's own (PATH's stem): its decay branches, then the nets grown from it."""
    return sorted(path.parent.glob(path.stem + "_decay*.csv")) + sorted(path.parent.glob(path.stem + "_grown*.csv"))


def flat_stretch(table: list[dict], tolerance_db: float = FLAT_TOLERANCE_DB) -> tuple[float, int]:
    """How long the held-out gain has been flat at the curve's end: (CPU-hours, steps) back to the
    earliest row from which it has risen by less than tolerance_db to the last row, every row between
    counting too (a dip and recovery is flat; a rise of tolerance_db or more ends the stretch).
    The steps are given beside the CPU-hours because a CPU-hour buys ~5x the steps in bf16 (AMX,
    AVX512-BF16) that it buys in fp32 on an AVX2-only CPU: a stretch trained in fp32 is flat for far fewer
    steps than its CPU-hours suggest."""
    if not table:
        return 0.0, 0
    last = table[-1]
    start = last
    for row in reversed(table[:-1]):
        if float(last["heldout_gain"]) - float(row["heldout_gain"]) >= tolerance_db:
            break
        start = row
    return round(float(last["cpu_h"]) - float(start["cpu_h"]), 3), int(last["step"]) - int(start["step"])


def write_rows(table: list[dict], path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(table)
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="?",
                        help="the training run folder (with --branch-of: by default BASE-decay-<step>)")
    parser.add_argument("--curve", type=Path, required=True, help="writes CURVE.csv and CURVE.png")
    parser.add_argument("--segment", type=float, default=30.0, help="CPU minutes of training between scores")
    parser.add_argument("--until-cpu-h", type=float, default=8.0, help="stop once the run has this many CPU-hours")
    parser.add_argument("--until-flat", type=float, metavar="CPU_H",
                        help=f"also stop once the held-out gain has been flat (risen less than {FLAT_TOLERANCE_DB} dB) "
                             "for this many CPU-hours (flat_stretch)")
    parser.add_argument("--reference", action="append", default=[], metavar="LABEL=DB",
                        help="a dashed line on the plot: another method's held-out gain on the same protocol")
    parser.add_argument("--branch-of", type=Path, metavar="BASE",
                        help="start from BASE run's current weights (once) and score on BASE's CPU-hour axis")
    parser.add_argument("--tag", default="", help="with --branch-of and no RUN: names a branch with another recipe "
                                                  "(BASE-decay-<step>-TAG, its curve CURVE-<step>-TAG)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)  # after --: the indi-edge train arguments
    args, train_args = parser.parse_args(argv[:split]), argv[split + 1:]
    task = train_args[train_args.index("--task") + 1] if "--task" in train_args else "motion-deblur"
    references = {label: float(gain) for label, _, gain in (r.rpartition("=") for r in args.reference)}
    if args.run is None:
        if not args.branch_of:
            parser.error("RUN is needed unless --branch-of names the campaign to branch off")
        args.run = branch_run(args.branch_of, args.tag)
        args.curve = Path(f"{args.curve}-{args.run.name.removeprefix(args.branch_of.name + '-decay-')}")
    csv_path, png_path = Path(f"{args.curve}.csv"), Path(f"{args.curve}.png")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    table = rows(csv_path)
    offset_h = start_branch(args.run, args.branch_of) if args.branch_of else 0.0
    wall_h = float(table[-1]["wall_h"]) if table else 0.0
    scored_h = float(table[-1]["cpu_h"]) - offset_h if table else 0.0  # this run's own CPU-hours
    title = f"{args.run.name}: {task} " + (f"branched off {args.branch_of.name} at {offset_h:.2f} CPU-h"
                                          if args.branch_of else "from scratch")
    while offset_h + cpu_hours(args.run) < args.until_cpu_h:
        start = time.perf_counter()
        if cpu_hours(args.run) - scored_h < 0.05 * args.segment / 30:  # else: trained, not yet scored
            if finished(args.run):
                break
            train_segment(args.run, train_args, args.segment)
        wall_h += (time.perf_counter() - start) / 3600
        scored_h = cpu_hours(args.run)
        cpu_h = offset_h + scored_h
        weights = args.run / "weights.safetensors"
        held, held_worst = gains(weights, task, "heldout")
        video, video_worst = gains(weights, task, "video")
        log = last_log(args.run)
        step = checkpoint_step(args.run) if (args.run / "checkpoint.safetensors").is_file() else log["step"]
        table.append({"segment": len(table) + 1, "step": step, "cpu_h": f"{cpu_h:.3f}", "wall_h": f"{wall_h:.3f}",
                      "heldout_gain": f"{held:.3f}", "heldout_worst": f"{held_worst:.3f}", "video_gain": f"{video:.3f}",
                      "video_worst": f"{video_worst:.3f}", "loss": f"{log['loss']:.5f}", "cpu": trained_on(args.run),
                      "time": time.strftime("%Y-%m-%d %H:%M"), "precision": trained_precision(args.run),
                      "lr": f"{trained_lr(args.run):g}"})
        write_rows(table, csv_path)
        plot(table, png_path, title, references)
        flat_h, flat_steps = flat_stretch(table)
        print(f"segment {len(table)}: step {table[-1]['step']}, {cpu_h:.2f} CPU-h, held-out {held:+.2f} dB "
              f"(worst {held_worst:+.2f}), video {video:+.2f} dB (worst {video_worst:+.2f}); flat (within "
              f"{FLAT_TOLERANCE_DB} dB) for {flat_h:.2f} CPU-h, {flat_steps} steps", flush=True)
        if args.until_flat is not None and flat_h >= args.until_flat:
            print(f"the held-out gain has been flat for {flat_h:.2f} >= {args.until_flat} CPU-h: stopping", flush=True)
            break


if __name__ == "__main__":
    main()
