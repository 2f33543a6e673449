"""Restore images, folders, video files, streams and cameras with a Restorer.

Video files and streams are read and written with PyAV (FFmpeg): H.264 .mp4 by default, audio and
subtitles copied, timestamps, rotation and colour kept (sinks.py). Cameras are read with OpenCV.
Every output is written to a hidden temporary file and renamed when complete and checked; an
output that would overwrite an input is refused before any work.

    images.py    read, write, restore one image      sources.py  files/streams (PyAV), cameras (OpenCV)
    folders.py   a folder of images and videos        sinks.py    the checked, atomic video writer
    restore.py   the video loop (files, live)         pipeline.py decode | restore | encode threads
    live.py      newest-frame reading, frame drops    codecs.py   which encoder, pixel format, CRF
    probe.py     what a video file holds              paths.py    temporary names, input protection
"""
from indi_edge.video.codecs import READ_VIDEO_SUFFIXES, WRITE_VIDEO_SUFFIXES
from indi_edge.video.folders import restore_folder
from indi_edge.video.images import IMAGE_SUFFIXES, read_image, restore_image, side_by_side, write_image
from indi_edge.video.paths import partial_path
from indi_edge.video.restore import restore_video
from indi_edge.video.sinks import VideoWriteError, write_frames

__all__ = ["IMAGE_SUFFIXES", "READ_VIDEO_SUFFIXES", "WRITE_VIDEO_SUFFIXES", "VideoWriteError", "partial_path",
           "read_image", "restore_folder", "restore_image", "restore_video", "side_by_side", "write_frames",
           "write_image"]
