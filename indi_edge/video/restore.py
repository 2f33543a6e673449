"""Restore a video file, stream or camera into a video file: decode -> restore -> encode.

Files run pipelined (pipeline.staged) and lose nothing: any failure leaves no file at the
destination. Live sources (cameras, streams, or a file with realtime=True) restore the newest
frame and drop the ones that arrive while busy (live.NewestFrame); if one fails mid-way, the frames
written so far are kept as a complete, checked file and the summary says why it stopped.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

from indi_edge.budget import StepBudget
from indi_edge.video import live, pipeline, sources
from indi_edge.video.images import side_by_side
from indi_edge.video.paths import refuse_overwriting_inputs
from indi_edge.video.sinks import PyAvSink, VideoWriteError


def restore_video(restorer, src, dst, *, compare: bool = False, progress: bool = True,
                  max_frames: int | None = None, codec: str | None = None, crf: int | None = None,
                  pipelined: bool = True, realtime: bool = False, live_budget: bool = True) -> dict:
    """Restore video file / stream URL / camera index `src` into video file `dst`.

    realtime=True plays a file at its own rate as a live source. A live run whose restorer has no
    budget gets one of a frame interval (1000/fps ms) for that run when live_budget is True, so the
    step count is the largest that keeps up with the source.

    Returns a summary: frames written, dropped (live only), fps, width, height, dst, codec, seconds,
    and stopped_by (why a live source stopped early, else None).
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, got {max_frames}")
    dst = Path(dst)
    if not isinstance(src, int) and not sources.is_live_url(src):
        refuse_overwriting_inputs([(Path(src), dst)])
    source = sources.open_source(src)
    try:
        info = source.info
        sink = PyAvSink(dst, info, codec=codec, crf=crf)
        is_live = info.live or realtime
        with _frame_interval_budget(restorer, info.fps, is_live and live_budget):
            summary = _run(restorer, source, sink, compare=compare, progress=progress, max_frames=max_frames,
                           pipelined=pipelined, realtime=realtime and not info.live, is_live=is_live)
            choices = getattr(restorer, "budget_choices", dict)()
            budget_ms = restorer.budget.budget_s * 1e3 if getattr(restorer, "budget", None) else None
    finally:
        source.close()
    if not is_live and info.frame_count > 0 and summary["frames"] < min(info.frame_count, max_frames or info.frame_count):
        why = f" ({source.read_error})" if source.read_error else ""
        warnings.warn(f"{src} reported {info.frame_count} frames but only {summary['frames']} could be read{why}; "
                      f"{dst} holds those", RuntimeWarning, stacklevel=2)
    return {**summary, "fps": info.fps, "dst": str(dst), "budget_choices": choices, "budget_ms": budget_ms}


@contextlib.contextmanager
def _frame_interval_budget(restorer, fps: float, wanted: bool):
    """For the run, a step budget of one frame interval on a Restorer that has none."""
    if not wanted or getattr(restorer, "budget", False) is not None:  # a budget already, or not a Restorer
        yield
        return
    restorer.budget = StepBudget(1000.0 / fps)
    try:
        yield
    finally:
        restorer.budget = None


def _run(restorer, source, sink: PyAvSink, *, compare, progress, max_frames, pipelined, realtime, is_live) -> dict:
    from tqdm import tqdm

    def work(item):
        return restorer.run(item.image) if isinstance(item, sources.Frame) else None

    items = source.items(max_frames)
    if realtime:
        items = live.paced(items)
    newest = live.NewestFrame(items) if is_live else None
    if newest is not None:
        steps = pipeline.serial(newest, work)
    else:
        steps = pipeline.staged(items, work) if pipelined else pipeline.serial(items, work)
    total = source.info.frame_count if source.info.frame_count > 0 else None
    if max_frames is not None:
        total = min(total or max_frames, max_frames)
    bar = tqdm(total=None if is_live else total, unit="frame", disable=not progress, dynamic_ncols=True)
    started, stopped_by = time.perf_counter(), None
    try:
        with contextlib.closing(steps):  # stops the reading threads before the source closes
            for item, restored in steps:
                _handle(item, restored, sink, compare, bar, newest)
    except VideoWriteError:
        sink.abort()
        raise
    except BaseException as err:
        # A live source that fails or is stopped (Ctrl-C is how a camera run ends) keeps its frames;
        # anything else leaves nothing behind.
        if not is_live or sink.frames == 0 or not isinstance(err, (Exception, KeyboardInterrupt)):
            sink.abort()
            raise
        stopped_by = "stopped by Ctrl-C" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
    finally:
        bar.close()
    if sink.frames == 0:
        sink.abort()
        raise ValueError(f"no frames could be read from {source.info.name}")
    sink.commit()
    if stopped_by is None and source.read_error and is_live:
        stopped_by = source.read_error
    height, width = sink.size
    return {"frames": sink.frames, "dropped": newest.dropped if newest is not None else 0, "width": width,
            "height": height, "codec": sink.encoding_name, "seconds": time.perf_counter() - started,
            "stopped_by": stopped_by}


def _handle(item, restored, sink: PyAvSink, compare: bool, bar, newest) -> None:
    if isinstance(item, sources.Passthrough):
        sink.mux(item.packet)
        return
    sink.write(item, side_by_side(item.image, restored) if compare else restored)
    bar.update(1)
    if newest is not None and newest.dropped:
        bar.set_postfix(dropped=newest.dropped, refresh=False)
