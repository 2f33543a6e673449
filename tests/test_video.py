"""Video, image and folder restoration, and the restore/info CLI: frame count, size and fps kept,
atomic writes, streams that end mid-way."""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from indi_edge import cli, video
from indi_edge.restorer import Restorer

FPS, W, H, FRAMES = 12.0, 40, 32, 9


def write_clip(path: Path, frames: int = FRAMES) -> Path:
    rng = np.random.default_rng(0)
    with video.VideoWriter(path, FPS, W, H) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    return path


def read_clip(path: Path) -> tuple[float, int, int, int]:
    """(fps, width, height, frames actually decoded)."""
    cap = cv2.VideoCapture(str(path))
    fps, w, h = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    count = sum(1 for _ in video.frames_of(cap))
    cap.release()
    return fps, w, h, count


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.mark.parametrize("suffix", [".avi", ".mkv", ".mp4"])
def test_video_out_keeps_frame_count_size_and_fps(tiny_onnx, tmp_path, suffix):
    src = write_clip(tmp_path / "in.avi")
    dst = tmp_path / f"out{suffix}"
    summary = video.restore_video(Restorer(tiny_onnx, threads=1), src, dst, progress=False)
    assert summary["frames"] == FRAMES
    assert read_clip(dst) == (FPS, W, H, FRAMES)
    assert leftovers(tmp_path) == []


def test_compare_writes_before_and_after_side_by_side(tmp_path):
    src = write_clip(tmp_path / "in.mkv")  # FFV1: lossless, so the left half is the input exactly
    dst = tmp_path / "cmp.mkv"
    video.restore_video(Restorer(lambda x, t: -x, steps=1), src, dst, compare=True, progress=False)
    assert read_clip(dst) == (FPS, 2 * W, H, FRAMES)
    before = next(video.frames_of(cv2.VideoCapture(str(src))))
    pair = next(video.frames_of(cv2.VideoCapture(str(dst))))
    np.testing.assert_array_equal(pair[:, :W], before)
    np.testing.assert_array_equal(pair[:, W:], 255 - before)


class FailsOnFrame:
    """A restorer whose model breaks on the n-th frame (a crash mid-video)."""

    def __init__(self, n: int, error: type[BaseException]):
        self.n, self.error, self.seen = n, error, 0

    def run(self, frame):
        self.seen += 1
        if self.seen == self.n:
            raise self.error("model failed")
        return frame


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_leaves_no_file_at_the_destination(tmp_path, error):
    src = write_clip(tmp_path / "in.avi")
    dst = tmp_path / "out.mp4"
    with pytest.raises(error):
        video.restore_video(FailsOnFrame(4, error), src, dst, progress=False)
    assert not dst.exists() and leftovers(tmp_path) == []


def test_a_stream_that_fails_mid_way_keeps_what_was_written(tmp_path):
    src = write_clip(tmp_path / "in.avi", frames=10)
    data = src.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])  # the header still says 10 frames
    dst = tmp_path / "out.avi"
    with pytest.warns(RuntimeWarning, match="reported 10 frames but only"):
        summary = video.restore_video(Restorer(lambda x, t: x, steps=1), cut, dst, progress=False)
    assert 0 < summary["frames"] < 10
    assert read_clip(dst)[3] == summary["frames"]


class StubCamera:
    """Stands in for a webcam (none exists in CI): `frames` good reads, then `end` on the next."""

    def __init__(self, frames: int, end):
        self.left, self.end = frames, end

    def read(self):
        if self.left == 0:
            if isinstance(self.end, type):
                raise self.end()
            return False, None
        self.left -= 1
        return True, np.full((H, W, 3), 10 * self.left, np.uint8)

    def release(self):
        pass


@pytest.mark.parametrize("end", [False, KeyboardInterrupt])  # read fails / Ctrl-C
def test_a_camera_that_stops_keeps_what_was_written(tmp_path, monkeypatch, end):
    info = video.StreamInfo(FPS, W, H, -1, live=True)
    monkeypatch.setattr(video, "open_capture", lambda source: (StubCamera(5, end), info))
    dst = tmp_path / "cam.mkv"
    summary = video.restore_video(Restorer(lambda x, t: x, steps=1), 0, dst, progress=False)
    assert summary["frames"] == 5 and read_clip(dst) == (FPS, W, H, 5)


def test_max_frames_stops_early(tmp_path):
    src = write_clip(tmp_path / "in.avi")
    dst = tmp_path / "first3.avi"
    assert video.restore_video(Restorer(lambda x, t: x, steps=1), src, dst, progress=False, max_frames=3)["frames"] == 3
    assert read_clip(dst)[3] == 3


def test_bad_destinations_and_sources(tmp_path):
    with pytest.raises(ValueError, match="video extension"):
        video.VideoWriter(tmp_path / "x.gif", FPS, W, H)
    with pytest.raises(ValueError, match="image extension"):
        video.write_image(tmp_path / "x.txt", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(FileNotFoundError):
        video.restore_video(Restorer(lambda x, t: x, steps=1), tmp_path / "absent.mp4", tmp_path / "o.mp4")
    not_video = tmp_path / "junk.avi"
    not_video.write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot open"):
        video.restore_video(Restorer(lambda x, t: x, steps=1), not_video, tmp_path / "o.mp4")


# --- the CLI ---------------------------------------------------------------------------------------

def test_restore_cli_image_folder_and_video(tiny_onnx, tmp_path, capsys):
    rng = np.random.default_rng(1)
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 256, (21, 17, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "b.png"), rng.integers(0, 65536, (9, 11), dtype=np.uint16))  # 16-bit gray
    model = ["--model", str(tiny_onnx), "--quiet"]
    assert cli.main(["restore", str(folder / "a.png"), "-o", str(tmp_path / "a_out.png"), *model]) == 0
    assert cv2.imread(str(tmp_path / "a_out.png")).shape == (21, 17, 3)
    assert cli.main(["restore", str(folder), "-o", str(tmp_path / "out"), "--compare", *model]) == 0
    b = cv2.imread(str(tmp_path / "out" / "b.png"), cv2.IMREAD_UNCHANGED)
    assert b.dtype == np.uint16 and b.shape == (9, 22)
    src = write_clip(tmp_path / "in.avi")
    assert cli.main(["restore", str(src), "-o", str(tmp_path / "o.mkv"), "--steps", "2", "--seed", "3", *model]) == 0
    assert read_clip(tmp_path / "o.mkv") == (FPS, W, H, FRAMES)
    assert f"wrote {FRAMES} frames at 12 fps" in capsys.readouterr().out


def test_restore_cli_errors_are_one_line(tiny_onnx, tmp_path, capsys):
    assert cli.main(["restore", "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx)]) == 2
    assert "exactly one source" in capsys.readouterr().err
    assert cli.main(["restore", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx)]) == 2
    assert "no image, folder or video" in capsys.readouterr().err


def test_info_cli_prints_metadata_and_providers(tiny_onnx, capsys):
    assert cli.main(["info", str(tiny_onnx), "--backend", "onnxruntime"]) == 0
    out = capsys.readouterr().out
    for words in ("cpu:", "native bf16:", "providers:", "CPUExecutionProvider", "input x:", "'2*h'", "steps:",
                  "multiple:", "precision:"):
        assert words in out


def test_demo_writes_before_after_pngs_and_videos(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "-o", str(out), "--model", str(tiny_onnx), "--size", "64", "--frames", "4", "--quiet"]) == 0
    for name in ("clean.png", "before.png", "after.png"):
        assert cv2.imread(str(out / name)).shape == (64, 64, 3)
    assert cv2.imread(str(out / "compare.png")).shape == (64, 128, 3)
    assert read_clip(out / "shaky.mkv")[1:] == (64, 64, 4)
    assert read_clip(out / "compare.mp4")[1:] == (128, 64, 4)
    assert "motion-deblur" in (said := capsys.readouterr().out) and "PSNR degraded" in said  # custom task: camera shake


def test_demo_degrades_as_the_models_task_and_the_denoiser_restores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "-o", str(out), "--model", "denoise", "--size", "64", "--frames", "2", "--quiet"]) == 0
    said = capsys.readouterr().out
    before, after = (float(x) for x in re.search(r"PSNR degraded ([\d.]+) dB -> restored ([\d.]+) dB", said).groups())
    assert "denoise" in said and after > before + 3.0
