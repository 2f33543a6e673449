"""What a video file holds, as PyAV (FFmpeg) reads it: streams, codecs, timing, rotation, colour.

`python -m indi_edge.video.probe FILE...` prints it as JSON (used to check what a restore kept).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from indi_edge.video.sources import av_module


def video_packet_times(path: str | Path) -> tuple[int, float]:
    """(video packets, seconds from the first packet's start to the last one's end), by demuxing
    only: fast, and what a player will find."""
    av = av_module()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count, first, end = 0, None, None
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            count += 1
            start = packet.pts
            first = start if first is None else min(first, start)
            end = max(end or start, start + (packet.duration or 0))
        if count == 0:
            return 0, 0.0
        return count, float((end - first) * stream.time_base)


def probe(path: str | Path) -> dict:
    """Streams with codec, timing and (video) size, pixel format, rotation, colour; container metadata."""
    av = av_module()
    with av.open(str(path)) as container:
        streams = []
        for s in container.streams:
            entry = {"index": s.index, "type": s.type, "codec": s.codec_context.name,
                     "time_base": str(s.time_base), "metadata": dict(s.metadata)}
            if s.type == "video":
                cc = s.codec_context
                entry.update(width=cc.width, height=cc.height, pix_fmt=cc.pix_fmt,
                             average_rate=str(s.average_rate), **{k: int(getattr(cc, k)) for k in
                             ("color_primaries", "color_trc", "colorspace", "color_range")})
            if s.type == "audio":
                entry.update(sample_rate=s.codec_context.sample_rate, channels=s.codec_context.channels)
            streams.append(entry)
        video = container.streams.video
        if video:
            first = next(container.decode(video[0]), None)
            streams[video[0].index]["rotation"] = first.rotation if first is not None else 0
    count, duration = video_packet_times(path) if video else (0, 0.0)
    return {"file": str(path), "format": container.format.name, "metadata": dict(container.metadata),
            "video_frames": count, "video_duration_s": round(duration, 4), "streams": streams}


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(json.dumps(probe(name), indent=2))
