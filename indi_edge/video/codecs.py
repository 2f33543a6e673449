"""Which encoder writes a video, in which pixel format, with which options (PyAV / FFmpeg names)."""
from __future__ import annotations

import dataclasses
import warnings

# User-facing codec name -> FFmpeg encoder in PyAV's wheel.
ENCODERS = {"h264": "libx264", "h265": "libx265", "av1": "libsvtav1", "vp9": "libvpx-vp9", "ffv1": "ffv1",
            "mjpeg": "mjpeg"}
# The codec an output extension gets unless --codec says otherwise. H.264 in .mp4/.mov plays in
# browsers and players; .mkv stays FFV1 (lossless) as before; .webm only holds VP8/VP9/AV1.
DEFAULT_CODEC = {".mp4": "h264", ".mov": "h264", ".m4v": "h264", ".mkv": "ffv1", ".webm": "vp9", ".avi": "mjpeg"}
WRITE_VIDEO_SUFFIXES = tuple(DEFAULT_CODEC)
READ_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts")
DEFAULT_CRF = {"h264": 18, "h265": 20, "av1": 28, "vp9": 28}  # visually near-lossless for h264/h265
# FFV1 keeps RGB (no colour conversion, bit-exact). 10-bit output where the encoder takes it (PyAV 18's wheel: x264, x265, SVT-AV1, FFV1; not VP9).
PIXEL_FORMATS = {  # codec -> (8-bit, high bit depth or None)
    "h264": ("yuv420p", "yuv420p10le"), "h265": ("yuv420p", "yuv420p10le"), "av1": ("yuv420p", "yuv420p10le"),
    "vp9": ("yuv420p", None), "ffv1": ("bgr0", "gbrp16le"), "mjpeg": ("yuvj420p", None),
}
RGB_FORMATS = ("bgr0", "gbrp16le")  # FFV1 stores the restored BGR pixels exactly: truly lossless
CHROMA_SUBSAMPLED = ("yuv420p", "yuv420p10le", "yuvj420p")


@dataclasses.dataclass(frozen=True)
class Encoding:
    codec: str          # a key of ENCODERS
    encoder: str        # the FFmpeg encoder name
    pix_fmt: str
    high_bit_depth: bool
    options: dict


def check_codec(suffix: str, codec: str | None, crf: int | None) -> str:
    """The codec an output with this extension gets; raises for an unknown extension, codec or a misplaced crf."""
    suffix = suffix.lower()
    if suffix not in DEFAULT_CODEC:
        raise ValueError(f"expected a video extension {WRITE_VIDEO_SUFFIXES}, got {suffix!r}")
    codec = codec or DEFAULT_CODEC[suffix]
    if codec not in ENCODERS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {sorted(ENCODERS)}")
    if crf is not None and codec not in DEFAULT_CRF:
        raise ValueError(f"--crf applies to {sorted(DEFAULT_CRF)}, not {codec}")
    return codec


def choose_encoding(suffix: str, codec: str | None, crf: int | None, high_bit_depth: bool,
                    width: int, height: int) -> Encoding:
    """The encoding of an output file; high_bit_depth asks for >8-bit (input was 10-bit or more)."""
    codec = check_codec(suffix, codec, crf)
    low, high = PIXEL_FORMATS[codec]
    if high_bit_depth and high is None:
        warnings.warn(f"{codec} is written 8-bit here: the high-bit-depth input loses its extra bits "
                      f"(h264, h265, av1 and ffv1 keep them)", RuntimeWarning, stacklevel=3)
    pix_fmt = high if high_bit_depth and high else low
    if pix_fmt in CHROMA_SUBSAMPLED and (width % 2 or height % 2):
        raise ValueError(f"{codec} in {pix_fmt} needs an even width and height, got {width}x{height}; "
                         f"write .mkv (FFV1) for odd sizes")
    if codec == "h265" and width < 64:
        # x265 in PyAV 18's wheel writes out of bounds (valgrind: Lookahead::cuTree) on frames under
        # 64 pixels wide; a 40x32 clip aborted the process. 64 and wider ran clean under valgrind.
        raise ValueError(f"h265 needs frames at least 64 pixels wide, got {width}x{height}")
    options = {}
    if codec in DEFAULT_CRF:
        options["crf"] = str(DEFAULT_CRF[codec] if crf is None else crf)
    if codec == "vp9":
        options["b"] = "0"  # constant quality: libvpx uses crf only with a zero target bitrate
    return Encoding(codec, ENCODERS[codec], pix_fmt, pix_fmt == high, options)
