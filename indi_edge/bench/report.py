"""The benchmark's outputs: strict JSON, a Markdown report appended to a log, a PNG plot of
latency against steps per backend."""
from __future__ import annotations

from pathlib import Path

from indi_edge import atomic


def _ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _x(v) -> str:
    return "–" if v is None else f"{v:.2f}x"


def measured_table(rows: list[dict]) -> str:
    lines = ["| backend | res | N | batch | median ms/frame | p90 | p99 | pre / network / update / post (ms) | "
             "SDK overhead | vs torch eager | floor ms | of peak (frame / network) | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["parts_ms"]
        parts = " / ".join(_ms(p[k]) for k in ("preprocess", "network", "update", "postprocess"))
        rss = "–" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:.0f}"
        lines.append(f"| {r['backend']} | {r['resolution']} | {r['steps']} | {r['batch']} | {_ms(r['median_ms'])} | "
                     f"{_ms(r['p90_ms'])} | {_ms(r['p99_ms'])} | {parts} | {_pct(r['overhead_share'])} | "
                     f"{_x(r['speedup_vs_torch_eager'])} | {_ms(r['floor_ms'])} ({r['precision']}, {r['floor_bound']}) | "
                     f"{_pct(r['fraction_of_peak'])} / {_pct(r['network_fraction_of_peak'])} | {rss} |")
    return "\n".join(lines)


def headline_text(result: dict) -> str:
    h = result["headline"]
    if "skipped" in h:
        return f"Headline: {h['skipped']}."
    f, base = h["fastest"], h["torch_eager_fp32"]
    out = [f"**{h['resolution']}, N={h['steps']}, batch 1**: fastest CPU path **{f['backend']}** "
           f"{_ms(f['median_ms'])} ms/frame"]
    if base:
        out.append(f" vs torch eager fp32 {_ms(base['median_ms'])} ms: **{_x(h['speedup_vs_torch_eager'])}**")
    out.append(f"; {_pct(f['fraction_of_compute_peak'])} of this CPU's measured {f['precision']} matmul peak "
               f"over the whole frame ({_pct(f['fraction_of_peak'])} of its {f['floor_bound']}-bound floor, "
               f"{_pct(f['network_fraction_of_peak'])} over the network time alone); SDK overhead (all but the network) "
               f"{_pct(f['overhead_share'])} of the frame.")
    if h.get("fastest_fp32"):
        b = h["fastest_fp32"]
        out.append(f" Fastest fp32 path: {b['backend']} {_ms(b['median_ms'])} ms ({_pct(b['fraction_of_peak'])} of "
                   f"the fp32 peak).")
    if "bf16_speedup_vs_fastest_fp32" in h:
        out.append(f" Fastest bf16 path {h['fastest_bf16']['backend']} over the fastest fp32 path: "
                   f"{_x(h['bf16_speedup_vs_fastest_fp32'])}.")
    q = result["bf16_quality"]
    if "skipped" not in q:
        for name, diff in q["psnr_difference_db"].items():
            diffs = ", ".join(f"N={n}: {d:+.3f} dB" for n, d in diff.items())
            out.append(f" {name} PSNR − fp32 PSNR on {len(q['images'])} held-out {q['task']} images: {diffs}.")
        fp32 = ", ".join(f"N={n} {v:.2f}" for n, v in q["psnr"][q["fp32_backend"]].items())
        out.append(f" (fp32 {fp32} dB; degraded input {q['input_psnr']:.2f} dB.)")
    return "".join(out)


def choice_text(result: dict) -> str:
    """What Restorer(model) runs here, and the paths this run could not time."""
    out = []
    if "auto_path" in result:
        a = result["auto_path"]
        out.append(f"`auto` (what `Restorer(model)` picks here) = **{a['path']}** (CPU kind {a['cpu_kind']}: "
                   f"{' > '.join(a['fastest_first'])}). ")
    for name, reason in result.get("skipped_backends", {}).items():
        out.append(f"Skipped {name}: {reason}. ")
    return "".join(out) + ("\n\n" if out else "")


def limits_text(result: dict) -> str:
    lim = result["limits"]
    f32, b16, bw = lim["matmul_fp32"], lim["matmul_bf16"], lim["copy_bandwidth"]
    cost = next(iter(result["graph_costs"].values()))
    gflops = lambda m: "skipped" if "skipped" in m else f"{1e3 * m['median_tflops']:.0f}"  # noqa: E731
    spread = ""
    if len(lim.get("measurements", [])) > 1:
        each = [f"{gflops(m['matmul_fp32'])} / {gflops(m['matmul_bf16'])}" for m in lim["measurements"]]
        spread = f" (fp32 / bf16 GFLOP/s at start and end of the run: {'; '.join(each)}; the higher is used)"
    bf16 = f"bf16 skipped ({b16['skipped']})" if "skipped" in b16 else \
        f"bf16 {1e3 * b16['median_tflops']:.0f} GFLOP/s ({b16['size']}²)"
    cpu = result["device"].get("summary", result["device"].get("model", ""))
    return (f"CPU: {cpu}. Measured here ({f32['threads']} threads): matmul fp32 {1e3 * f32['median_tflops']:.0f} GFLOP/s "
            f"({f32['size']}², median of {f32['repeats']}), {bf16}{spread}, copy bandwidth {bw['median_gbs']:.1f} GB/s. "
            f"Network: {cost['macs_per_pixel']:,.0f} MACs/pixel counted from the ONNX graph.")


def experiments_table(trials: list[dict]) -> str:
    if not trials:
        return ""
    lines = ["| path | option | threads | ms per network call (720p) |", "|---|---|---|---|"]
    lines += [f"| {t['path']} | {t['option']} | {t['threads']} | {_ms(t['ms'])} |" for t in trials]
    return "\n".join(lines)


def predicted_table(result: dict, steps: tuple[int, ...] = (1, 4)) -> str:
    targets = [t["name"] for t in result["targets"]]
    cells: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
    for r in result["predicted_floors"]:
        cells.setdefault((r["preset"], r["resolution"]), {}).setdefault(r["target"], {})[r["steps"]] = r["floor_ms"]
    lines = ["| preset | res | " + " | ".join(f"{t}: ms at N={'/'.join(map(str, steps))}" for t in targets) + " |",
             "|---|---|" + "---|" * len(targets)]
    for (preset, res), by_target in cells.items():
        row = []
        for t in targets:
            ms = [by_target[t][n] for n in steps if n in by_target[t]]
            text = " / ".join(_ms(v) for v in ms)
            row.append(f"**{text}**" if ms and ms[-1] <= 1000 / 30 else text)  # bold: 30 fps possible at the last N
        lines.append(f"| {preset} | {res} | " + " | ".join(row) + " |")
    source = "; ".join(f"{t['name']}: {t['fp16_dense_tflops']} TFLOPS fp16 dense, {t['bandwidth_gbs']} GB/s ({t['source']})"
                       for t in result["targets"])
    return ("\n".join(lines) + f"\n\nBold: 30 fps is physically possible at N={steps[-1]}. "
            f"DATASHEET peaks (not measured): {source}.")


def markdown(result: dict) -> str:
    s, d = result["settings"], result["device"]
    head = (f"## {result['created'][:19]}Z — {s['model']} on {d['model']} ({d['threads']} threads)"
            f"{' — QUICK (smoke run, few frames)' if s['quick'] else ''}\n\n")
    if s.get("note"):
        head += f"Note: {s['note']}\n\n"
    v = result["versions"]
    head += (f"Versions: onnxruntime {v['onnxruntime']}, torch {v['torch']}, numpy {v['numpy']}, "
             f"indi_edge.ops {v['indi_edge.ops']}. CPU: {d.get('summary', ' '.join(d.get('flags', [])))}. "
             f"Timed frames per row: {s['frames']} (batch rows: ceil(frames / batch) batches) after {s['warmup']} "
             f"warm-up; whole run {result['wall_s']:.0f} s; load average at start/end "
             f"{result['load_average']['start']:.2f}/{result['load_average']['end']:.2f}.\n\n")
    parts = [head, headline_text(result), "\n\n", choice_text(result), limits_text(result), "\n\n",
             measured_table(result["rows"]), "\n"]
    if result["experiments"]:
        parts += ["\nOption sweep (one network call, median of 5):\n\n", experiments_table(result["experiments"]), "\n"]
    parts += ["\nPredicted floors per frame on named targets (fp16, batch 1, max(compute, activation traffic) "
              "at datasheet peaks; real engines reach a fraction of these):\n\n", predicted_table(result), "\n"]
    return "".join(parts)


def plot(result: dict, path: Path) -> None:
    """Latency per frame against N, one line per backend, one panel per resolution (batch 1), log y."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [r for r in result["rows"] if r["batch"] == 1]
    resolutions = list(dict.fromkeys(r["resolution"] for r in rows))
    fig, axes = plt.subplots(1, len(resolutions), figsize=(5 * len(resolutions), 4.2), squeeze=False)
    colours = {b: f"C{i}" for i, b in enumerate(dict.fromkeys(r["backend"] for r in rows))}  # same in every panel
    for ax, res in zip(axes[0], resolutions):
        here = [r for r in rows if r["resolution"] == res]
        for backend in dict.fromkeys(r["backend"] for r in here):
            line = sorted((r["steps"], r["median_ms"]) for r in here if r["backend"] == backend)
            ax.plot(*zip(*line), "o-", color=colours[backend], label=backend)
        for precision, style in (("fp32", "k:"), ("bf16", "k--")):
            floors = sorted({(r["steps"], r["floor_ms"]) for r in here if r["precision"] == precision})
            if floors:
                ax.plot(*zip(*floors), style, label=f"{precision} floor (measured peak)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sorted({r["steps"] for r in here}), [str(n) for n in sorted({r["steps"] for r in here})])
        ax.set_xlabel("InDI steps N")
        ax.set_ylabel("ms per frame (median)")
        ax.set_title(res)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{result['settings']['model']} on {result['device']['model']}, {result['device']['threads']} threads")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def write(result: dict, out: Path, tag: str) -> dict[str, Path]:
    """bench_<tag>.json (replaced), bench_<tag>.md (appended), bench_<tag>.png (replaced)."""
    out = Path(out)
    paths = {"json": out / f"bench_{tag}.json", "markdown": out / f"bench_{tag}.md", "plot": out / f"bench_{tag}.png"}
    atomic.write_json(paths["json"], result)
    previous = paths["markdown"].read_text() if paths["markdown"].is_file() else "# indi-edge bench results\n\n"
    atomic.write_text(paths["markdown"], previous + markdown(result) + "\n")
    plot(result, paths["plot"])
    return paths
