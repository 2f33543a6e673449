"""Where restored frames go: a video file written by PyAV through a temporary file.

The output keeps the source's timestamps (variable frame rate too), frame rate, rotation, colour
tags and container metadata; audio and subtitle packets are copied unchanged (remuxed). The file
is checked (frame count, duration) before it is renamed into place, so the destination only ever
holds a complete, checked video.
"""
from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from indi_edge.video.codecs import RGB_FORMATS, check_codec, choose_encoding
from indi_edge.video.paths import partial_path
from indi_edge.video.sources import Frame, SourceInfo, av_module


CFR_ONLY = (".avi",)


class VideoWriteError(OSError):
    """Writing the output failed (full disk, codec or muxer error); nothing is left at the destination."""


class PyAvSink:
    """Frames and passthrough packets in, a checked video file out (commit) or nothing (abort).

    The container opens at the first frame, when the frame size and rotation are known; passthrough
    packets that arrive before it wait in a list.
    """

    def __init__(self, path: str | Path, info: SourceInfo, *, codec: str | None = None, crf: int | None = None):
        self.av = av_module()
        self.path, self.info, self.codec, self.crf = Path(path), info, codec, crf
        check_codec(self.path.suffix, codec, crf)  # a bad extension or codec fails before any work
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"no folder {self.path.parent} to write {self.path.name} into")
        self.tmp = partial_path(self.path)
        self.container = self.stream = None
        self.waiting: list = []        # passthrough packets before the container opened
        self.copies: dict = {}         # source stream index -> output stream
        self.frames, self.size, self.dtype = 0, None, None
        self.first_pts = self.last_pts = None
        self.time_base: Fraction | None = None
        self.encoding_name: str | None = None  # e.g. "h264 yuv420p", once open

    # --- opening -------------------------------------------------------------------------------

    def _open(self, first: Frame, image: np.ndarray) -> None:
        av, info = self.av, self.info
        height, width = image.shape[:2]
        encoding = choose_encoding(self.path.suffix, self.codec, self.crf, image.dtype == np.uint16, width, height)
        try:
            self.container = av.open(str(self.tmp), "w", format=_muxer(self.path.suffix))
            self.container.metadata.update({k: v for k, v in info.metadata.items() if k != "encoder"})
            rate = Fraction(info.fps).limit_denominator(1001 * 1000)
            stream = self.container.add_stream(encoding.encoder, rate=rate, options=encoding.options)
            stream.width, stream.height, stream.pix_fmt = width, height, encoding.pix_fmt
            # The source's time base keeps its timestamps exact (variable frame rate too); AVI
            # counts frames, so there a timestamp is a frame number at the nominal rate.
            keeps_time = first.pts is not None and first.time_base and self.path.suffix.lower() not in CFR_ONLY
            self.time_base = first.time_base if keeps_time else 1 / rate
            stream.codec_context.time_base = self.time_base
            stream.codec_context.framerate = rate
            for key, value in info.colour.items():
                if not (key == "colorspace" and encoding.pix_fmt in RGB_FORMATS):  # RGB has no YUV matrix
                    setattr(stream.codec_context, key, value)
            if first.rotation:
                stream.set_display_rotation(first.rotation)
            self.stream = stream
            for source_stream in info.passthrough:
                self._copy_stream(source_stream)
            self.container.start_encoding()
        except self.av.error.FFmpegError as err:
            raise VideoWriteError(f"cannot write {encoding.codec} ({encoding.encoder}) to {self.path}: {err}") from err
        self.size, self.dtype = (height, width), image.dtype
        self.encoding_name = f"{encoding.codec} {encoding.pix_fmt}"
        for packet in self.waiting:
            self.mux(packet)
        self.waiting.clear()

    def _copy_stream(self, source_stream) -> None:
        name = source_stream.codec_context.name
        if name not in self.container.supported_codecs:
            warnings.warn(f"{source_stream.type} stream #{source_stream.index} ({name}) cannot go unchanged into "
                          f"{self.path.suffix}; it is left out of {self.path.name} (.mkv holds any codec)",
                          RuntimeWarning, stacklevel=4)
            return
        copy = self.container.add_stream_from_template(source_stream)
        copy.metadata.update(source_stream.metadata)
        self.copies[source_stream.index] = copy

    # --- writing -------------------------------------------------------------------------------

    def write(self, item: Frame, image: np.ndarray) -> None:
        """Encode `image` (the restored item) at item's timestamp."""
        if self.container is None:
            self._open(item, image)
        if image.shape[:2] != self.size or image.dtype != self.dtype or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"frame {item.index} is {image.dtype} {image.shape}, but the video started as "
                             f"{self.dtype} {self.size + (3,)}: a video holds one frame size")
        frame = self.av.VideoFrame.from_ndarray(image, format="bgr48le" if image.dtype == np.uint16 else "bgr24")
        if item.pts is not None and item.time_base:
            pts = round(item.pts * item.time_base / self.time_base)
        else:
            pts = item.index  # no timestamps: a constant rate (time base 1/fps)
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # encoders refuse repeated timestamps
        frame.pts, frame.time_base = pts, self.time_base
        self._mux_all(self.stream.encode(frame))
        self.frames += 1
        self.first_pts = pts if self.first_pts is None else self.first_pts
        self.last_pts = pts

    def mux(self, packet) -> None:
        """Copy an audio/subtitle packet unchanged."""
        if self.container is None:
            self.waiting.append(packet)
            return
        copy = self.copies.get(packet.stream.index)
        if copy is not None:
            packet.stream = copy
            self._mux_all([packet])

    def _mux_all(self, packets) -> None:
        try:
            self.container.mux(packets)
        except (OSError, self.av.error.FFmpegError) as err:
            raise VideoWriteError(f"writing {self.path} failed after {self.frames} frames: {err}") from err

    # --- finishing -----------------------------------------------------------------------------

    def commit(self) -> Path:
        """Flush the encoder, close, check the file and rename it into place."""
        if self.container is None:
            raise ValueError(f"no frames to write to {self.path}")
        try:
            self._mux_all(self.stream.encode(None))
            self.container.close()
        except (OSError, self.av.error.FFmpegError) as err:
            self.abort()
            raise VideoWriteError(f"finishing {self.path} failed: {err}; nothing was written there") from err
        except BaseException:
            self.abort()
            raise
        self.container = None
        try:
            self._check()
            self.tmp.replace(self.path)
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def expected_duration_s(self) -> float:
        """From the first frame's timestamp to the end of the last frame."""
        last_frame = 1.0 / self.info.fps
        return float((self.last_pts - self.first_pts) * self.time_base) + last_frame

    def _check(self) -> None:
        """The file on disk holds every frame written, over the duration written."""
        from indi_edge.video.probe import video_packet_times

        try:
            count, duration = video_packet_times(self.tmp)
        except (OSError, self.av.error.FFmpegError, ValueError) as err:
            raise VideoWriteError(f"{self.path} could not be read back after writing ({err}); nothing was "
                                  f"written there") from err
        expected = self.expected_duration_s()
        if count != self.frames or abs(duration - expected) > max(2.0 / self.info.fps, 0.05):
            raise VideoWriteError(f"{self.path} holds {count} frames over {duration:.3f} s after writing "
                                  f"{self.frames} frames over {expected:.3f} s; nothing was written there")

    def abort(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # already failing: the temporary file goes either way
                pass
            self.container = None
        self.tmp.unlink(missing_ok=True)


def _muxer(suffix: str) -> str | None:
    # The temporary name keeps the suffix, so FFmpeg picks the muxer itself; .m4v needs saying.
    return {".m4v": "mp4"}.get(suffix.lower())



def write_frames(path: str | Path, frames, fps: float, *, codec: str | None = None) -> Path:
    """Write BGR frames (uint8, or uint16 for high bit depth) as a video at a constant fps."""
    sink = PyAvSink(path, SourceInfo(str(path), fps, 0, 0, -1, live=False), codec=codec)
    try:
        for index, image in enumerate(frames):
            sink.write(Frame(index, image, None, None), image)
    except BaseException:
        sink.abort()
        raise
    return sink.commit()
