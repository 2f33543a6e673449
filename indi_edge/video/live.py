"""Real-time sources: restore the newest frame, drop the ones that came while busy, count them.

A camera or stream does not wait for the restorer. If every frame were queued, a restorer slower
than the source would fall further and further behind; instead a reader thread keeps only the
newest frame, and the frames it replaces are dropped (and counted). A video file can be played
this way at its own rate (paced()), to see what a live run at that rate would keep.
"""
from __future__ import annotations

import threading
import time
from typing import Iterable, Iterator

from indi_edge.video.sources import Frame, Passthrough


def paced(items: Iterable) -> Iterator:
    """Frames released at their presentation times (from the first one), as a live source sends them."""
    start = first = None
    for item in items:
        if isinstance(item, Frame) and item.pts is not None and item.time_base:
            now = time.perf_counter()
            if start is None:
                start, first = now, item.pts
            wait = start + float((item.pts - first) * item.time_base) - now
            if wait > 0:
                time.sleep(wait)
        yield item


class NewestFrame:
    """Iterate a live source from a reader thread; each step gives the packets read since the last
    step and then the newest frame. `dropped` counts the frames replaced before they were taken."""

    def __init__(self, items: Iterable):
        self.items = items
        self.dropped = 0
        self.error: BaseException | None = None
        self._frame: Frame | None = None
        self._packets: list[Passthrough] = []
        self._ended = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="indi-edge-live-reader", daemon=True)

    def _read(self) -> None:
        iterator = iter(self.items)
        try:
            for item in iterator:
                if self._stop.is_set():
                    break
                with self._ready:
                    if isinstance(item, Passthrough):
                        self._packets.append(item)
                        continue
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame = item
                    self._ready.notify()
        except BaseException as err:  # noqa: BLE001 - raised to the consumer after the frames so far
            self.error = err
        finally:
            getattr(iterator, "close", lambda: None)()  # in this thread, before the source closes
            with self._ready:
                self._ended = True
                self._ready.notify()

    def __iter__(self) -> Iterator:
        self._thread.start()
        try:
            while True:
                with self._ready:
                    self._ready.wait_for(lambda: self._frame is not None or self._ended)
                    packets, frame = self._packets, self._frame
                    self._packets, self._frame = [], None
                    ended = self._ended and frame is None
                yield from packets
                if ended:
                    if self.error is not None:
                        raise self.error
                    return
                yield frame
        finally:
            self._stop.set()
            self._thread.join()  # a camera read returns within a frame interval
