"""Restore images, folders of images, video files and camera streams with a Restorer.

Outputs are written to a hidden temporary file beside the destination and renamed when complete,
so an interrupted or failed run never leaves a half-written file at the destination. A camera or
stream that ends or fails mid-way (a read fails) stops cleanly and keeps what was written; so does
Ctrl-C on a camera, the usual way to end one. Video output keeps the input's fps, size (doubled in
width with compare=True) and frame count; the codec follows the extension (VIDEO_CODECS).
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# What opencv-python-headless can write here (GUIDE: H.264 cannot be written).
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}
READ_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
CAMERA_FALLBACK_FPS = 30.0  # cameras that report 0 fps


def partial_path(path: Path) -> Path:
    """The hidden temporary name `path` is written under until complete (same suffix for OpenCV)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """[H, W(, C)] before | after -> [H, 2W(, C)], for --compare."""
    return np.concatenate([before, after], axis=1)


# --- images ---------------------------------------------------------------------------------

def read_image(path: str | Path) -> np.ndarray:
    """An image as OpenCV holds it, depth and alpha kept (uint8/uint16, gray/BGR/BGRA)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path} is not an image OpenCV can read")
    return img


def write_image(path: str | Path, img: np.ndarray) -> Path:
    """Write via a temporary file and rename, so the destination is whole or absent."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: expected an image extension {IMAGE_SUFFIXES}")
    tmp = partial_path(path)
    try:
        if not cv2.imwrite(str(tmp), img):
            raise ValueError(f"OpenCV could not write {path} ({img.dtype} {img.shape})")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def restore_image(restorer, src: str | Path, dst: str | Path, *, compare: bool = False) -> Path:
    before = read_image(src)
    after = restorer.run(before)
    return write_image(dst, side_by_side(before, after) if compare else after)


def restore_folder(restorer, src: str | Path, dst: str | Path, *, compare: bool = False,
                   progress: bool = True) -> list[Path]:
    """Every image in folder src -> the same name in folder dst (created)."""
    from tqdm import tqdm

    files = sorted(p for p in Path(src).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {src}")
    out_dir = Path(dst)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [restore_image(restorer, f, out_dir / f.name, compare=compare)
            for f in tqdm(files, unit="image", disable=not progress)]


# --- video ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StreamInfo:
    fps: float
    width: int
    height: int
    frame_count: int  # -1 when unknown (cameras, some streams)
    live: bool        # a camera: Ctrl-C ends it normally


def open_capture(source: str | Path | int) -> tuple[cv2.VideoCapture, StreamInfo]:
    """A VideoCapture on a video file (path) or a camera (int index), with what it reports."""
    live = isinstance(source, int)
    if not live and not Path(source).is_file():
        raise FileNotFoundError(f"no video file at {source}")
    cap = cv2.VideoCapture(source if live else str(source))
    if not cap.isOpened():
        raise ValueError(f"OpenCV cannot open {'camera ' if live else ''}{source}")
    fps = cap.get(cv2.CAP_PROP_FPS)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not live else -1
    info = StreamInfo(fps if fps > 0 else CAMERA_FALLBACK_FPS, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                      int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), count if count > 0 else -1, live)
    return cap, info


def frames_of(cap: cv2.VideoCapture, limit: int | None = None) -> Iterator[np.ndarray]:
    """Frames until the stream ends or a read fails (both end the stream cleanly), at most `limit`."""
    n = 0
    while limit is None or n < limit:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        n += 1
        yield frame


class VideoWriter:
    """cv2.VideoWriter that writes to a temporary file and renames it into place on commit().

    Used as a context manager: a clean exit commits, an exception aborts (the temporary file is
    deleted and nothing appears at the destination).
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int):
        self.path = Path(path)
        codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise ValueError(f"{self.path}: expected a video extension {sorted(VIDEO_CODECS)} "
                             f"({', '.join(f'{k} {v}' for k, v in VIDEO_CODECS.items())})")
        self.tmp = partial_path(self.path)
        self.size = (int(width), int(height))
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*codec), float(fps), self.size)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"OpenCV cannot write {codec} video to {self.path}")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"video frames must be uint8 {self.size[1]}x{self.size[0]}x3 BGR, "
                             f"got {frame.dtype} {frame.shape}")
        self.writer.write(frame)
        self.frames += 1

    def commit(self) -> Path:
        self.writer.release()
        self.tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        self.writer.release()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, kind, err, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def restore_video(restorer, src: str | Path | int, dst: str | Path, *, compare: bool = False,
                  progress: bool = True, max_frames: int | None = None) -> dict:
    """Restore a video file or camera (int index) into video dst; returns a summary dict
    (frames, fps, size, dst). Progress (tqdm) shows frames per second."""
    from tqdm import tqdm

    cap, info = open_capture(src)
    width = info.width * (2 if compare else 1)
    frames = 0
    try:
        with VideoWriter(dst, info.fps, width, info.height) as writer:
            total = info.frame_count if info.frame_count > 0 else None
            if max_frames is not None:
                total = min(total or max_frames, max_frames)
            bar = tqdm(total=total, unit="frame", disable=not progress)
            try:
                for frame in frames_of(cap, max_frames):
                    out = restorer.run(frame)
                    writer.write(side_by_side(frame, out) if compare else out)
                    frames = writer.frames
                    bar.update(1)
            except KeyboardInterrupt:
                if not info.live:
                    raise
                # Ctrl-C is how a camera session ends: keep what was written.
            finally:
                bar.close()
    finally:
        cap.release()
    if info.frame_count > 0 and frames < min(info.frame_count, max_frames or info.frame_count):
        warnings.warn(f"{src} reported {info.frame_count} frames but only {frames} could be read; "
                      f"{dst} holds those", RuntimeWarning, stacklevel=2)
    return {"frames": frames, "fps": info.fps, "width": width, "height": info.height, "dst": str(dst)}
