"""Decode, restore and encode overlapped: each stage in its own thread, joined by bounded queues.

`staged(items, work)` yields (item, work(item)) in input order, like the serial
`((item, work(item)) for item in items)`, while the next items are already being read and worked
on. The queues are bounded, so memory holds at most `depth` frames per stage. An exception in any
stage reaches the caller where that item would have come; when the caller stops early (an error
while encoding, Ctrl-C), the stages stop too.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def _put(q: queue.Queue, value, stop: threading.Event) -> bool:
    """Put unless the pipeline is stopping (a full queue whose reader left would block forever)."""
    while not stop.is_set():
        try:
            q.put(value, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return _END


def _read(items: Iterable, out: queue.Queue, stop: threading.Event) -> None:
    iterator = iter(items)
    try:
        for item in iterator:
            if not _put(out, item, stop):
                return
    except BaseException as err:  # noqa: BLE001 - handed to the caller, who raises it
        _put(out, _Failed(err), stop)
        return
    finally:
        # A generator left half-way is closed here, in the thread that ran it, before the caller
        # closes what it reads from (a decoder used after its container closed crashes).
        getattr(iterator, "close", lambda: None)()
    _put(out, _END, stop)


def _work(work: Callable, inbox: queue.Queue, out: queue.Queue, stop: threading.Event) -> None:
    while True:
        item = _get(inbox, stop)
        if item is _END or isinstance(item, _Failed):
            _put(out, item, stop)
            return
        try:
            result = work(item)
        except BaseException as err:  # noqa: BLE001
            _put(out, _Failed(err), stop)
            return
        if not _put(out, (item, result), stop):
            return


def staged(items: Iterable, work: Callable, depth: int = 4) -> Iterator[tuple]:
    """(item, work(item)) in order; reading and work run in two threads ahead of the caller."""
    stop = threading.Event()
    read_q, done_q = queue.Queue(maxsize=depth), queue.Queue(maxsize=depth)
    threads = [threading.Thread(target=_read, args=(items, read_q, stop), name="indi-edge-decode", daemon=True),
               threading.Thread(target=_work, args=(work, read_q, done_q, stop), name="indi-edge-restore", daemon=True)]
    for thread in threads:
        thread.start()
    try:
        while True:
            got = done_q.get()
            if got is _END:
                return
            if isinstance(got, _Failed):
                raise got.error
            yield got
    finally:
        stop.set()
        for thread in threads:
            thread.join()  # each checks `stop` at least every 0.1 s


def serial(items: Iterable, work: Callable) -> Iterator[tuple]:
    """The same as staged(), one step after another on the calling thread (the baseline)."""
    iterator = iter(items)
    try:
        for item in iterator:
            yield item, work(item)
    finally:
        getattr(iterator, "close", lambda: None)()
