"""Video I/O through PyAV, the pipelined and live loops, and the restore/info/demo CLI: codecs,
timestamps, audio, rotation and colour kept; nothing lost on failure; frames dropped, not queued, live."""
from __future__ import annotations

import errno
import re
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

av = pytest.importorskip("av", reason="video files need PyAV (the [video] extra)")

from indi_edge import cli, video  # noqa: E402
from indi_edge.restorer import Restorer  # noqa: E402
from indi_edge.video import sinks, sources  # noqa: E402
from indi_edge.video.probe import probe  # noqa: E402

FPS, W, H, FRAMES = 12.0, 40, 32, 9


def frames(count: int = FRAMES, seed: int = 0, dtype=np.uint8) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    top = 256 if dtype == np.uint8 else 65536
    return [rng.integers(0, top, (H, W, 3), dtype=dtype) for _ in range(count)]


def write_clip(path: Path, count: int = FRAMES) -> Path:
    """A constant-rate clip of random frames (lossless FFV1 for .mkv)."""
    return video.write_frames(path, frames(count), FPS)


def write_rich_clip(path: Path, count: int = 12, pix_fmt: str = "yuv420p") -> Path:
    """What a phone records: H.264 at a variable frame rate, AAC audio, a 90 degree rotation, BT.709 tags."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        v.codec_context.time_base = Fraction(1, 1000)
        for key in ("color_primaries", "color_trc", "colorspace"):
            setattr(v.codec_context, key, 1)  # BT.709
        v.set_display_rotation(90)
        a = out.add_stream("aac", rate=48000)
        out.metadata["title"] = "kept"
        pts, fmt = 0, "bgr48le" if "10" in pix_fmt else "bgr24"
        for i, image in enumerate(frames(count, dtype=np.uint16 if "10" in pix_fmt else np.uint8)):
            frame = av.VideoFrame.from_ndarray(image, format=fmt)
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += 25 if i % 2 else 45  # variable frame rate
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        t = np.linspace(0, 2 * np.pi * 440 * 0.4, 1024 * 20, dtype=np.float32)
        for i in range(20):
            sound = av.AudioFrame.from_ndarray(np.sin(t[i * 1024:(i + 1) * 1024])[None], format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 48000, i * 1024
            out.mux(a.encode(sound))
        out.mux(a.encode(None))
    return path


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [round(float(f.time), 4) for f in container.decode(video=0)]


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


IDENTITY = Restorer(lambda x, t: x, steps=1)
INVERT = Restorer(lambda x, t: -x, steps=1)


# --- what a restore keeps --------------------------------------------------------------------

@pytest.mark.parametrize("suffix,codec,pix_fmt", [(".mp4", "h264", "yuv420p"), (".mkv", "ffv1", "bgr0"),
                                                  (".avi", "mjpeg", "yuvj420p"), (".webm", "vp9", "yuv420p")])
def test_default_codec_per_extension_keeps_frames_size_and_rate(tiny_onnx, tmp_path, suffix, codec, pix_fmt):
    src = write_clip(tmp_path / "in.mkv")
    dst = tmp_path / f"out{suffix}"
    summary = video.restore_video(Restorer(tiny_onnx, threads=1), src, dst, progress=False)
    assert summary["frames"] == FRAMES and summary["codec"] == f"{codec} {pix_fmt}"
    facts = probe(dst)
    stream = facts["streams"][0]
    assert (stream["codec"], stream["width"], stream["height"]) == (codec, W, H)
    assert facts["video_frames"] == FRAMES and float(Fraction(stream["average_rate"])) == pytest.approx(FPS, rel=1e-3)
    assert frame_times(dst) == pytest.approx(frame_times(src), abs=1.5e-3)  # .mkv counts milliseconds
    assert leftovers(tmp_path) == []


def test_audio_timestamps_rotation_colour_and_metadata_are_kept(tmp_path):
    src = write_rich_clip(tmp_path / "phone.mp4")
    dst = tmp_path / "out.mp4"
    video.restore_video(IDENTITY, src, dst, progress=False)
    before, after = probe(src), probe(dst)
    assert [s["type"] for s in after["streams"]] == ["video", "audio"]
    assert audio_payloads(dst) == audio_payloads(src)  # copied, not re-encoded
    assert frame_times(dst) == frame_times(src)        # the variable frame rate too
    for key in ("rotation", "color_primaries", "color_trc", "colorspace", "width", "height"):
        assert after["streams"][0][key] == before["streams"][0][key], key
    assert after["streams"][0]["rotation"] == 90 and after["metadata"]["title"] == "kept"
    assert after["streams"][0]["codec"] == "h264" and after["streams"][0]["pix_fmt"] == "yuv420p"


def test_ten_bit_input_is_restored_in_uint16_and_written_ten_bit(tmp_path):
    src = write_rich_clip(tmp_path / "hdr.mp4", count=4, pix_fmt="yuv420p10le")
    seen = []

    class Recording:
        def run(self, frame):
            seen.append(frame.dtype)
            return frame

    video.restore_video(Recording(), src, tmp_path / "out.mp4", progress=False)
    assert set(seen) == {np.dtype(np.uint16)}
    assert probe(tmp_path / "out.mp4")["streams"][0]["pix_fmt"] == "yuv420p10le"


@pytest.mark.parametrize("codec,crf", [("h265", 30), ("av1", 40)])
def test_other_codecs_by_choice(tmp_path, codec, crf):
    src = video.write_frames(tmp_path / "in.mkv", [np.zeros((48, 64, 3), np.uint8)] * 4, FPS)
    summary = video.restore_video(IDENTITY, src, tmp_path / "out.mp4", codec=codec, crf=crf, progress=False)
    assert summary["frames"] == 4
    assert probe(tmp_path / "out.mp4")["streams"][0]["codec"] in {"h265": ("hevc",), "av1": ("av1", "libdav1d")}[codec]


def test_compare_writes_before_and_after_side_by_side_and_keeps_the_audio(tmp_path):
    src = write_clip(tmp_path / "in.mkv")  # FFV1: lossless, so the left half is the input exactly
    dst = tmp_path / "cmp.mkv"
    video.restore_video(INVERT, src, dst, compare=True, progress=False)
    pair, before = decoded(dst)[0], decoded(src)[0]
    assert pair.shape == (H, 2 * W, 3)
    np.testing.assert_array_equal(pair[:, :W], before)
    np.testing.assert_array_equal(pair[:, W:], 255 - before)
    phone = write_rich_clip(tmp_path / "phone.mp4")
    video.restore_video(IDENTITY, phone, tmp_path / "cmp.mp4", compare=True, progress=False)
    assert audio_payloads(tmp_path / "cmp.mp4") == audio_payloads(phone)


def test_pipelined_and_serial_loops_give_the_same_frames_in_order(tiny_onnx, tmp_path):
    src = write_clip(tmp_path / "in.mkv", count=12)
    restorer = Restorer(tiny_onnx, threads=1)
    for pipelined in (True, False):
        video.restore_video(restorer, src, tmp_path / f"{pipelined}.mkv", pipelined=pipelined, progress=False)
    pipelined, serial = decoded(tmp_path / "True.mkv"), decoded(tmp_path / "False.mkv")
    assert len(pipelined) == 12
    for a, b, original in zip(pipelined, serial, decoded(src)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, restorer.run(original))  # frame k holds input k, restored


def test_a_folder_of_images_and_videos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_clip(folder / "clip.mkv")
    cv2.imwrite(str(folder / "a.png"), frames(1)[0])
    written = video.restore_folder(INVERT, folder, tmp_path / "out", progress=False)
    assert sorted(p.name for p in written) == ["a.png", "clip.mkv"]
    assert len(decoded(tmp_path / "out" / "clip.mkv")) == FRAMES


# --- nothing lost ----------------------------------------------------------------------------

class FailsOnFrame:
    """A restorer whose model breaks on the n-th frame (a crash mid-video)."""

    def __init__(self, n: int, error: type[BaseException]):
        self.n, self.error, self.seen = n, error, 0

    def run(self, frame):
        self.seen += 1
        if self.seen == self.n:
            raise self.error("model failed")
        return frame


@pytest.mark.parametrize("pipelined", [True, False])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_file_leaves_no_file_at_the_destination(tmp_path, error, pipelined):
    src = write_clip(tmp_path / "in.mkv")
    dst = tmp_path / "out.mp4"
    with pytest.raises(error):
        video.restore_video(FailsOnFrame(4, error), src, dst, progress=False, pipelined=pipelined)
    assert not dst.exists() and leftovers(tmp_path) == []


def fail_writes_after(monkeypatch, packets: int):
    """Make the muxer fail like a full disk after `packets` packets (what a tiny tmpfs does)."""
    real = sinks.PyAvSink._mux_all
    count = [0]

    def mux_all(self, items):
        items = list(items)
        count[0] += len(items)
        if count[0] > packets:
            raise sinks.VideoWriteError(f"writing {self.path} failed: "
                                        f"{OSError(errno.ENOSPC, 'No space left on device')}")
        real(self, items)

    monkeypatch.setattr(sinks.PyAvSink, "_mux_all", mux_all)


def test_a_full_disk_fails_the_run_with_nothing_at_the_destination(tmp_path, monkeypatch, capsys):
    src = write_clip(tmp_path / "in.mkv")
    fail_writes_after(monkeypatch, 3)
    dst = tmp_path / "out.mkv"
    assert cli.main(["restore", str(src), "-o", str(dst), "--model", "denoise", "--steps", "1", "--quiet"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not dst.exists() and leftovers(tmp_path) == []


def test_a_written_file_that_reads_back_short_is_not_renamed_into_place(tmp_path, monkeypatch):
    src = write_clip(tmp_path / "in.mkv")
    monkeypatch.setattr("indi_edge.video.probe.video_packet_times", lambda path: (FRAMES - 2, 0.5))
    with pytest.raises(video.VideoWriteError, match=f"holds {FRAMES - 2} frames .* after writing {FRAMES} frames"):
        video.restore_video(IDENTITY, src, tmp_path / "out.mkv", progress=False)
    assert not (tmp_path / "out.mkv").exists() and leftovers(tmp_path) == []


def test_an_output_onto_an_input_is_refused_before_any_work(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mkv")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), frames(1)[0])
    kept = clip.read_bytes(), image.read_bytes()
    for src, dst, extra in ((clip, clip, []), (image, image, ["--compare"]), (tmp_path, tmp_path, []),
                            (clip, tmp_path / "." / "in.mkv", [])):
        code = cli.main(["restore", str(src), "-o", str(dst), "--model", "denoise", "--quiet", *extra])
        assert code == 2 and "refusing to overwrite an input" in capsys.readouterr().err
    assert (clip.read_bytes(), image.read_bytes()) == kept


def test_a_damaged_file_keeps_what_could_be_read_and_says_so(tmp_path):
    src = write_clip(tmp_path / "in.avi", count=10)
    data = src.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])  # the header still says 10 frames
    with pytest.warns(RuntimeWarning, match="reported 10 frames but only"):
        summary = video.restore_video(IDENTITY, cut, tmp_path / "out.avi", progress=False)
    assert 0 < summary["frames"] < 10
    assert len(decoded(tmp_path / "out.avi")) == summary["frames"]


def test_bad_destinations_and_sources(tmp_path, capsys):
    src = write_clip(tmp_path / "in.mkv")
    with pytest.raises(ValueError, match="video extension"):
        video.restore_video(IDENTITY, src, tmp_path / "x.gif")
    with pytest.raises(ValueError, match="image extension"):
        video.write_image(tmp_path / "x.txt", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="no folder"):
        video.restore_video(IDENTITY, src, tmp_path / "missing" / "o.mp4")
    with pytest.raises(FileNotFoundError):
        video.restore_video(IDENTITY, tmp_path / "absent.mp4", tmp_path / "o.mp4")
    not_video = tmp_path / "junk.avi"
    not_video.write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot open"):
        video.restore_video(IDENTITY, not_video, tmp_path / "o.mp4")
    with pytest.raises(ValueError, match="at least 64 pixels wide"):
        video.restore_video(IDENTITY, src, tmp_path / "o.mp4", codec="h265")
    with pytest.raises(ValueError, match="needs an even width"):
        video.write_frames(tmp_path / "odd.mp4", [np.zeros((5, 7, 3), np.uint8)], FPS)
    for bad in ("0", "-3"):
        assert cli.main(["restore", str(src), "-o", str(tmp_path / "o.mp4"), "--max-frames", bad]) == 2
        assert "--max-frames must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


# --- live sources ----------------------------------------------------------------------------

class StubCamera:
    """Stands in for a webcam (none exists in CI): `sizes` gives each good read's frame size, then
    `end` on the next read (False: the read fails; an exception type: raised, e.g. Ctrl-C)."""

    def __init__(self, sizes: list[tuple[int, int]], end=False, delay: float = 0.0):
        self.sizes, self.end, self.delay, self.sent = list(sizes), end, delay, 0

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return True

    def get(self, prop):
        return FPS if prop == cv2.CAP_PROP_FPS else 0.0  # and a 0x0 size, as some cameras report

    def read(self):
        time.sleep(self.delay)
        if not self.sizes:
            if isinstance(self.end, type):
                raise self.end()
            return False, None
        h, w = self.sizes.pop(0)
        self.sent += 1
        return True, np.full((h, w, 3), 10 * self.sent % 256, np.uint8)

    def release(self):
        pass


def camera(monkeypatch, stub: StubCamera):
    monkeypatch.setattr(sources, "open_source", lambda source: sources.CameraSource(source, capture=stub))


@pytest.mark.parametrize("end", [False, KeyboardInterrupt])  # read fails / Ctrl-C
def test_a_camera_that_stops_keeps_what_was_written(tmp_path, monkeypatch, end):
    camera(monkeypatch, StubCamera([(H, W)] * 5, end, delay=0.01))
    summary = video.restore_video(IDENTITY, 0, tmp_path / "cam.mp4", progress=False)
    assert summary["frames"] + summary["dropped"] == 5 and summary["stopped_by"]
    assert probe(tmp_path / "cam.mp4")["video_frames"] == summary["frames"]


def test_a_camera_that_changes_resolution_keeps_the_frames_before(tmp_path, monkeypatch, capsys):
    camera(monkeypatch, StubCamera([(H, W)] * 4 + [(2 * H, 2 * W)] * 3, delay=0.02))
    code = cli.main(["restore", "--camera", "0", "-o", str(tmp_path / "cam.mp4"), "--model", "denoise",
                     "--steps", "1", "--quiet"])
    said = capsys.readouterr().out
    assert code == 1 and "a video holds one frame size" in said and "complete and playable" in said
    kept = int(re.search(r"wrote (\d+) frames", said).group(1))
    assert 1 <= kept <= 4 and probe(tmp_path / "cam.mp4")["video_frames"] == kept


def test_a_camera_that_gives_no_frame_is_a_clear_error(tmp_path, monkeypatch):
    camera(monkeypatch, StubCamera([]))
    with pytest.raises(ValueError, match="camera 0 opened but gave no frame"):
        video.restore_video(IDENTITY, 0, tmp_path / "cam.mp4", progress=False)
    assert not (tmp_path / "cam.mp4").exists()


class Slow:
    """A restorer that takes `seconds` per frame (slower than the source) and records what it saw."""

    def __init__(self, seconds: float):
        self.seconds, self.seen = seconds, []

    def run(self, frame):
        self.seen.append(int(frame[0, 0, 0]))
        time.sleep(self.seconds)
        return frame


def test_realtime_playback_drops_frames_instead_of_falling_behind(tmp_path):
    count, fps = 24, 48.0
    ramp = [np.full((H, W, 3), 10 * i, np.uint8) for i in range(count)]
    src = video.write_frames(tmp_path / "in.mkv", ramp, fps)
    slow = Slow(2.5 / fps)  # 2.5 frame intervals per frame
    summary = video.restore_video(slow, src, tmp_path / "out.mkv", realtime=True, progress=False)
    assert summary["dropped"] > 0 and summary["frames"] + summary["dropped"] == count
    assert slow.seen == sorted(slow.seen) and slow.seen[0] == 0  # in order, starting at the first
    kept_times = frame_times(tmp_path / "out.mkv")
    assert kept_times == pytest.approx([round(v / 10) / fps for v in slow.seen], abs=1.5e-3)  # each kept frame at its source time


def test_a_live_run_gets_a_frame_interval_budget(tiny_onnx, tmp_path):
    src = write_clip(tmp_path / "in.mkv", count=12)
    restorer = Restorer(tiny_onnx, threads=1)
    summary = video.restore_video(restorer, src, tmp_path / "out.mkv", realtime=True, progress=False)
    assert summary["budget_ms"] == pytest.approx(1000 / FPS)
    assert restorer.budget is None  # only for that run


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
    src = write_clip(tmp_path / "in.mkv")
    assert cli.main(["restore", str(src), "-o", str(tmp_path / "o.mp4"), "--steps", "2", "--seed", "3", *model]) == 0
    assert len(decoded(tmp_path / "o.mp4")) == FRAMES
    assert f"wrote {FRAMES} frames at 12 fps, {W}x{H} h264 yuv420p" in capsys.readouterr().out


def test_restore_cli_errors_are_one_line(tiny_onnx, tmp_path, capsys):
    assert cli.main(["restore", "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx)]) == 2
    assert "exactly one source" in capsys.readouterr().err
    assert cli.main(["restore", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx)]) == 2
    assert "no image, folder or video" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "in.png"), np.zeros((8, 8, 3), np.uint8))
    assert cli.main(["restore", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.png"), "--model", str(tiny_onnx),
                     "--strength", "1.5"]) == 2
    assert "strength must be a number in (0, 1]" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_restore_cli_strength_blends_toward_the_input(tiny_onnx, tmp_path):
    rng = np.random.default_rng(2)
    cv2.imwrite(str(tmp_path / "in.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    model = ["--model", str(tiny_onnx), "--quiet", "--steps", "1"]
    for strength in ("1", "0.5"):
        assert cli.main(["restore", str(tmp_path / "in.png"), "-o", str(tmp_path / f"s{strength}.png"),
                         "--strength", strength, *model]) == 0
    y, full, half = (cv2.imread(str(tmp_path / f)).astype(np.float64) for f in ("in.png", "s1.png", "s0.5.png"))
    inside = (full > 0) & (full < 255)  # the blend is taken before clipping: saturated pixels may differ
    np.testing.assert_allclose(half[inside], (y + 0.5 * (full - y))[inside], atol=1.01)  # two 8-bit roundings
    assert np.abs(full - y).max() > 4  # the tiny model changes the image, so the blend is a real test


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
    assert [f.shape for f in decoded(out / "shaky.mkv")] == [(64, 64, 3)] * 4
    assert [f.shape for f in decoded(out / "compare.mp4")] == [(64, 128, 3)] * 4
    assert "motion-deblur" in (said := capsys.readouterr().out) and "PSNR degraded" in said  # custom task: camera shake
    assert said.startswith("barbara ") and "all 7 held-out images, one draw each: mean gain" in said


def test_demo_scores_every_heldout_image_whichever_is_shown(tiny_onnx, tmp_path, capsys):
    argv = ["demo", "--model", str(tiny_onnx), "--size", "32", "--frames", "1", "--quiet"]
    assert cli.main([*argv, "-o", str(tmp_path / "a")]) == 0
    first = capsys.readouterr().out
    assert cli.main([*argv, "-o", str(tmp_path / "b"), "--image", "sail"]) == 0
    second = capsys.readouterr().out
    assert second.startswith("sail 32x32") and first.splitlines()[1:3] == second.splitlines()[1:3]
    gains = re.findall(r"(\w+) ([+-][\d.]+)", first.splitlines()[2])
    assert [name for name, _ in gains] == ["barbara", "kodim23", "monarch", "sail", "tulips", "china", "flower"]
    assert not np.array_equal(cv2.imread(str(tmp_path / "a" / "clean.png")), cv2.imread(str(tmp_path / "b" / "clean.png")))
    assert cli.main([*argv, "-o", str(tmp_path / "c"), "--image", "lena"]) == 2
    assert "--image must be a held-out image (barbara, kodim23" in capsys.readouterr().err


def test_demo_degrades_as_the_models_task_and_the_denoiser_restores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "-o", str(out), "--model", "denoise", "--size", "64", "--frames", "2", "--quiet"]) == 0
    said = capsys.readouterr().out
    before, after = (float(x) for x in re.search(r"PSNR degraded ([\d.]+) dB -> restored ([\d.]+) dB", said).groups())
    assert "denoise" in said and after > before + 3.0
