"""A folder of images and videos -> the same names in an output folder."""
from __future__ import annotations

from pathlib import Path

from indi_edge.video.codecs import READ_VIDEO_SUFFIXES
from indi_edge.video.images import IMAGE_SUFFIXES, restore_image
from indi_edge.video.paths import refuse_overwriting_inputs


def restore_folder(restorer, src: str | Path, dst: str | Path, *, compare: bool = False, progress: bool = True,
                   **video_options) -> list[Path]:
    """Every image and video in folder src -> the same name in folder dst (created); video_options
    go to restore_video (codec, crf, pipelined, max_frames)."""
    from tqdm import tqdm

    from indi_edge.video.restore import restore_video

    src, out_dir = Path(src), Path(dst)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + READ_VIDEO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) or videos in {src}")
    pairs = [(f, out_dir / f.name) for f in files]
    refuse_overwriting_inputs(pairs)  # all of them, before any work
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in tqdm(pairs, unit="file", disable=not progress):
        if source.suffix.lower() in IMAGE_SUFFIXES:
            written.append(restore_image(restorer, source, target, compare=compare))
        else:
            restore_video(restorer, source, target, compare=compare, progress=False, **video_options)
            written.append(target)
    return written
