"""Where frames come from: video files and streams through PyAV, cameras through OpenCV.

A source yields, in demux order, Frame items (decoded images with their timestamps) and Passthrough
items (audio and subtitle packets to be copied unchanged into the output).
"""
from __future__ import annotations

import dataclasses
import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

CAMERA_FALLBACK_FPS = 30.0  # cameras that report 0 fps
LIVE_URL_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


@dataclasses.dataclass
class Frame:
    index: int                # 0-based position in the source
    image: np.ndarray         # BGR, uint8 or (10-bit and deeper input) uint16
    pts: int | None           # presentation time in time_base units (None: unknown)
    time_base: Fraction | None
    rotation: int = 0         # degrees, from the source's display matrix (the image itself is unrotated)


@dataclasses.dataclass
class Passthrough:
    packet: object            # an av.Packet of an audio or subtitle stream


@dataclasses.dataclass(frozen=True)
class SourceInfo:
    name: str
    fps: float
    width: int
    height: int
    frame_count: int          # -1 when unknown (cameras, streams, some containers)
    live: bool                # a camera or network stream: frames arrive in real time; Ctrl-C ends it
    high_bit_depth: bool = False
    colour: dict = dataclasses.field(default_factory=dict)  # codec-context colour fields to copy
    passthrough: tuple = ()   # the av streams copied unchanged (audio, subtitles)
    metadata: dict = dataclasses.field(default_factory=dict)  # the container's (title, creation_time, ...)


def is_live_url(source) -> bool:
    return isinstance(source, str) and (source.startswith(LIVE_URL_PREFIXES) or source.startswith("/dev/video"))


def av_module():
    try:
        import av
    except ImportError as err:
        raise ImportError("video files are read and written with PyAV: pip install 'indi-edge[video]'") from err
    return av


class PyAvSource:
    """A video file, or a network stream / v4l2 device (live), decoded by PyAV (FFmpeg)."""

    def __init__(self, source: str | Path):
        av = av_module()
        live = is_live_url(source)
        if not live and not Path(source).is_file():
            raise FileNotFoundError(f"no video file at {source}")
        try:
            self.container = av.open(str(source), format="v4l2" if str(source).startswith("/dev/video") else None)
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise ValueError(f"PyAV cannot open {source} as a video: {err}") from err
        if not self.container.streams.video:
            self.container.close()
            raise ValueError(f"{source} has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"  # frame + slice threads in the decoder
        cc = self.stream.codec_context
        if not (cc.width > 0 and cc.height > 0):
            self.container.close()
            raise ValueError(f"{source} reports a {cc.width}x{cc.height} video stream")
        rate = self.stream.average_rate or self.stream.guessed_rate
        passthrough = tuple(s for s in self.container.streams if s.type in ("audio", "subtitle"))
        depth = max((c.bits for c in cc.format.components), default=8) if cc.format else 8
        self.info = SourceInfo(
            name=str(source), fps=float(rate) if rate else CAMERA_FALLBACK_FPS, width=cc.width, height=cc.height,
            frame_count=self.stream.frames or -1, live=live, high_bit_depth=depth > 8,
            colour={k: getattr(cc, k) for k in ("color_primaries", "color_trc", "colorspace", "color_range")},
            passthrough=passthrough, metadata=dict(self.container.metadata))
        self.read_error: str | None = None  # why reading stopped before the end, if it did

    def items(self, limit: int | None = None) -> Iterator[Frame | Passthrough]:
        av = av_module()
        fmt = "bgr48le" if self.info.high_bit_depth else "bgr24"
        index = 0
        try:
            for packet in self.container.demux(self.stream, *self.info.passthrough):
                if packet.stream is not self.stream:
                    if packet.dts is not None:  # the demuxer's flush packets carry no data
                        yield Passthrough(packet)
                    continue
                for frame in packet.decode():
                    yield Frame(index, frame.to_ndarray(format=fmt), frame.pts, frame.time_base, frame.rotation)
                    index += 1
                    if limit is not None and index >= limit:
                        return
        except av.error.FFmpegError as err:
            if self.info.live:
                raise
            self.read_error = str(err)  # a damaged file: what was decoded so far is kept, and said

    def close(self) -> None:
        self.container.close()


class CameraSource:
    """An OpenCV camera (index): frames timed by the wall clock, in milliseconds."""

    TIME_BASE = Fraction(1, 1000)

    def __init__(self, index: int, capture=None):
        self.capture = capture if capture is not None else cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise ValueError(f"OpenCV cannot open camera {index}")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        # The size comes from the first frame: some cameras report 0x0 (or a size they do not send).
        ok, first = self.capture.read()
        if not ok or first is None or first.size == 0:
            self.capture.release()
            raise ValueError(f"camera {index} opened but gave no frame (is it in use, or unplugged?)")
        self.first = first
        self.info = SourceInfo(f"camera {index}", fps if fps > 0 else CAMERA_FALLBACK_FPS, first.shape[1],
                               first.shape[0], -1, live=True)
        self.read_error: str | None = None

    def items(self, limit: int | None = None) -> Iterator[Frame]:
        start = time.perf_counter()
        frame, index = self.first, 0
        while limit is None or index < limit:
            if frame is None:
                ok, frame = self.capture.read()
                if not ok or frame is None:
                    self.read_error = "the camera stopped sending frames"
                    return
            yield Frame(index, frame, round(1000 * (time.perf_counter() - start)), self.TIME_BASE)
            frame, index = None, index + 1

    def close(self) -> None:
        self.capture.release()


def open_source(source: str | Path | int) -> PyAvSource | CameraSource:
    """A camera index -> OpenCV; a file, URL or /dev/video* -> PyAV."""
    if isinstance(source, int):
        return CameraSource(source)
    return PyAvSource(source)
