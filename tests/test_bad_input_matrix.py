"""The bad-input matrix: each case is something a user (or a bad file) can hand the SDK, and the
exact error class, message and (for the CLI) exit code it must get. Nothing here may end in a
traceback, a silently wrong output or a lost file. README "Bad input" lists the classes covered."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from indi_edge import cli
from indi_edge.restorer import NonFiniteOutput, Restorer

av = pytest.importorskip("av", reason="the video cases need PyAV (the [video] extra)")

IDENTITY = Restorer(lambda x, t: x, steps=1)


def frame(*shape, dtype=np.uint8, value=0):
    return np.full(shape, value, dtype)


# --- frames through the Python API: (id, call, exception, message) ---------------------------------

FRAME_CASES = [
    ("none", lambda: IDENTITY.run(None), TypeError, "expected a frame as a numpy array"),
    ("list-not-array", lambda: IDENTITY.run([[1, 2]]), TypeError, "expected a frame as a numpy array"),
    ("4-d", lambda: IDENTITY.run(frame(2, 4, 4, 3)), ValueError, "shape HxW or HxWxC"),
    ("int32", lambda: IDENTITY.run(frame(4, 4, 3, dtype=np.int32)), TypeError, "dtype uint8, uint16, float32"),
    ("2-channels", lambda: IDENTITY.run(frame(4, 4, 2)), ValueError, r"1 \(gray\), 3 \(BGR\) or 4 \(BGRA\)"),
    ("empty", lambda: IDENTITY.run(frame(0, 5, 3)), ValueError, "at least 1x1"),
    ("float-nan", lambda: IDENTITY.run(frame(4, 4, 3, dtype=np.float32, value=np.nan)), ValueError, "finite pixel"),
    ("float-0-255", lambda: IDENTITY.run(frame(4, 4, 3, dtype=np.float32, value=200.0)), ValueError,
     r"float frames hold values in \[0, 1\]"),
    ("batch-is-array", lambda: IDENTITY.run_batch(frame(4, 4, 3)), TypeError, "expects a list"),
    ("network-nan", lambda: Restorer(lambda x, t: x * np.nan, steps=2).run(frame(4, 4, 3)), NonFiniteOutput,
     "frame 0: the model's output holds NaN or Inf"),
    ("steps-0", lambda: Restorer(lambda x, t: x, steps=0), ValueError, "steps must be an integer >= 1"),
    ("steps-huge", lambda: Restorer(lambda x, t: x, steps=10**6), ValueError, "steps must be at most 64"),
    ("eps-negative", lambda: Restorer(lambda x, t: x, eps=-1.0), ValueError, "eps must be a finite number >= 0"),
    ("tile-negative", lambda: Restorer(lambda x, t: x, tile=-4), ValueError, "tile must be None"),
    ("closed", lambda: _closed().run(frame(4, 4, 3)), ValueError, "closed"),
]


def _closed():
    restorer = Restorer(lambda x, t: x, steps=1)
    restorer.close()
    return restorer


@pytest.mark.parametrize("case", FRAME_CASES, ids=[c[0] for c in FRAME_CASES])
def test_bad_frames_and_arguments(case):
    _, call, error, message = case
    with pytest.raises(error, match=message):
        call()


# --- model files: (id, make(tmp, tiny_onnx, with_facts) -> path, message); Restorer raises ValueError/FileNotFoundError ---

def _wrong_io(tmp, *_):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["img"], ["out"])], "g",
        [onnx.helper.make_tensor_value_info("img", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
        [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp / "other.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)]), str(path))
    return path


def _file(name, data):
    def make(tmp, *_):
        path = tmp / name
        path.write_bytes(data)
        return path
    return make


MODEL_CASES = [
    ("missing", lambda tmp, *_: tmp / "absent.onnx", "no model file"),
    ("empty-onnx", _file("empty.onnx", b""), "not a readable ONNX model"),
    ("garbage-onnx", _file("junk.onnx", b"\x00garbage"), "not a readable ONNX model"),
    ("pt2-untrusted", _file("model.pt2", b"PK\x03\x04"), "runs code from the file"),
    ("text-file", _file("notes.txt", b"hi"), "unknown model file type"),
    ("folder", lambda tmp, *_: tmp, "is a folder"),
    ("multiple-0", lambda tmp, m, w: w(m, tmp / "facts.onnx", multiple=0), "multiple=0 must be a power of two"),
    ("multiple-99", lambda tmp, m, w: w(m, tmp / "facts.onnx", multiple=99), "multiple=99 must be a power of two"),
    ("steps-huge", lambda tmp, m, w: w(m, tmp / "facts.onnx", steps=10**9), "steps=1000000000 must be from 1 to 64"),
    ("eps-nan", lambda tmp, m, w: w(m, tmp / "facts.onnx", eps="nan"), "eps=nan must be a finite number"),
    ("sampler", lambda tmp, m, w: w(m, tmp / "facts.onnx", sampler="ddim"), "sampler='ddim' must be one of"),
    ("steps-text", lambda tmp, m, w: w(m, tmp / "facts.onnx", steps="four"), "steps='four' is not a valid int"),
    ("wrong-io", _wrong_io, "does not have indi_edge's IO"),
    ("unknown-bundled", lambda tmp, *_: "no-such-model", "no bundled model 'no-such-model'"),
]


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_bad_model_files(case, tmp_path, tiny_onnx, with_facts, capsys):
    _, make, message = case
    path = make(tmp_path, tiny_onnx, with_facts)
    backend = "onnxruntime" if str(path).endswith(".onnx") else "auto"  # a named path applies to .onnx only
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        Restorer(path, backend=backend)
    assert cli.main(["info", str(path), "--backend", backend]) == 2  # the CLI: one line, exit 2
    assert message.split("(")[0].replace("\\", "") in capsys.readouterr().err.replace("\\", "")


UNREADABLE_ONNX = [("empty", lambda m: b"", "(the file is empty)"),
                   ("garbage", lambda m: b"\x00garbage", "(Protobuf parsing failed.)"),
                   ("truncated", lambda m: m[:300], "(Protobuf parsing failed.)")]


def cpu_paths_to_try():
    """(backend, features to disable): the default on this CPU and as a CPU without native bf16 would
    choose it, and each .onnx path installed here."""
    from indi_edge.cpu_features import bf16_skip_reason

    paths = [("auto", ""), ("auto", "amx_bf16,avx512_bf16,arm_bf16"), ("onnxruntime", "")]
    try:
        import openvino  # noqa: F401
        paths.append(("openvino", ""))
        if bf16_skip_reason() is None:
            paths.append(("openvino-bf16", ""))
    except ImportError:
        pass
    return paths


@pytest.mark.parametrize("case", UNREADABLE_ONNX, ids=[c[0] for c in UNREADABLE_ONNX])
def test_an_unreadable_onnx_file_gets_the_same_one_line_on_every_cpu_path(case, tmp_path, tiny_onnx, capfd,
                                                                          monkeypatch):
    from indi_edge import cpu_features

    name, content, reason = case
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(content(tiny_onnx.read_bytes()))
    capfd.readouterr()
    for backend, disabled in cpu_paths_to_try():
        monkeypatch.setenv(cpu_features.DISABLE_ENV, disabled)
        cpu_features.cpu_features.cache_clear()
        try:
            assert cli.main(["info", str(path), "--backend", backend]) == 2
        finally:
            cpu_features.cpu_features.cache_clear()
        out, err = capfd.readouterr()  # file-descriptor level: a runtime's C++ logging would show here
        assert err == f"indi-edge info: error: {path} is not a readable ONNX model {reason}\n", (backend, disabled)
        assert out == ""


# --- the CLI: (id, argv(tmp, files) -> list, exit code, message on stderr) ------------------------

@pytest.fixture
def files(tmp_path):
    import cv2

    from indi_edge import video

    made = {"png": tmp_path / "a.png", "clip": tmp_path / "clip.mkv", "odd": tmp_path / "odd.mkv",
            "junk_png": tmp_path / "junk.png", "junk_mp4": tmp_path / "junk.mp4", "txt": tmp_path / "notes.txt",
            "empty": tmp_path / "empty_dir", "dir": tmp_path / "imgs"}
    cv2.imwrite(str(made["png"]), np.full((16, 16, 3), 100, np.uint8))
    video.write_frames(made["clip"], [np.full((16, 16, 3), 100, np.uint8)] * 3, 12.0)
    video.write_frames(made["odd"], [np.full((15, 17, 3), 100, np.uint8)] * 2, 12.0)
    made["junk_png"].write_bytes(b"not a png")
    made["junk_mp4"].write_bytes(b"not a video")
    made["txt"].write_text("hello")
    made["empty"].mkdir()
    made["dir"].mkdir()
    cv2.imwrite(str(made["dir"] / "b.png"), np.full((16, 16, 3), 50, np.uint8))
    return made


R = ["restore", "--model", "denoise", "--quiet"]
CLI_CASES = [
    ("no-source", lambda t, f: [*R, "-o", str(t / "o.png")], 2, "exactly one source"),
    ("two-sources", lambda t, f: [*R, str(f["png"]), "--camera", "0", "-o", str(t / "o.png")], 2, "exactly one source"),
    ("missing-input", lambda t, f: [*R, str(t / "nope.png"), "-o", str(t / "o.png")], 2, "no image, folder or video"),
    ("unsupported-input", lambda t, f: [*R, str(f["txt"]), "-o", str(t / "o.png")], 2, "expected an image"),
    ("empty-folder", lambda t, f: [*R, str(f["empty"]), "-o", str(t / "out")], 2, "no images"),
    ("corrupt-image", lambda t, f: [*R, str(f["junk_png"]), "-o", str(t / "o.png")], 2, "not an image OpenCV can read"),
    ("corrupt-video", lambda t, f: [*R, str(f["junk_mp4"]), "-o", str(t / "o.mp4")], 2, "cannot open"),
    ("image-to-txt", lambda t, f: [*R, str(f["png"]), "-o", str(t / "o.txt")], 2, "expected an image extension"),
    ("video-to-gif", lambda t, f: [*R, str(f["clip"]), "-o", str(t / "o.gif")], 2, "expected a video extension"),
    ("image-missing-folder", lambda t, f: [*R, str(f["png"]), "-o", str(t / "no" / "o.png")], 2, "no folder"),
    ("video-missing-folder", lambda t, f: [*R, str(f["clip"]), "-o", str(t / "no" / "o.mp4")], 2, "no folder"),
    ("image-onto-itself", lambda t, f: [*R, str(f["png"]), "-o", str(f["png"])], 2, "refusing to overwrite an input"),
    ("video-onto-itself", lambda t, f: [*R, str(f["clip"]), "-o", str(f["clip"])], 2, "refusing to overwrite an input"),
    ("folder-onto-itself", lambda t, f: [*R, str(f["dir"]), "-o", str(f["dir"])], 2, "refusing to overwrite an input"),
    ("max-frames-0", lambda t, f: [*R, str(f["clip"]), "-o", str(t / "o.mp4"), "--max-frames", "0"], 2,
     "--max-frames must be at least 1"),
    ("steps-and-budget", lambda t, f: [*R, str(f["png"]), "-o", str(t / "o.png"), "--steps", "2", "--budget-ms", "9"],
     2, "--budget-ms chooses the step count"),
    ("steps-0", lambda t, f: [*R, str(f["png"]), "-o", str(t / "o.png"), "--steps", "0"], 2, "steps must be"),
    ("eps-negative", lambda t, f: [*R, str(f["png"]), "-o", str(t / "o.png"), "--eps", "-1"], 2, "eps must be"),
    ("overlap-over-tile", lambda t, f: [*R, str(f["png"]), "-o", str(t / "o.png"), "--tile", "64", "--overlap", "64"],
     2, "overlap"),
    ("crf-on-ffv1", lambda t, f: [*R, str(f["clip"]), "-o", str(t / "o.mkv"), "--crf", "20"], 2, "--crf applies to"),
    ("odd-size-h264", lambda t, f: [*R, str(f["odd"]), "-o", str(t / "o.mp4")], 2, "needs an even width"),
    ("pt2-untrusted", lambda t, f: [*R[:1], str(f["png"]), "-o", str(t / "o.png"), "--model",
                                    str(_file("m.pt2", b"PK")(t, None))], 2, "runs code from the file"),
    ("export-steps-0", lambda t, f: ["export", "denoise-weights", "-o", str(t / "m.onnx"), "--steps", "0"], 2,
     "invalid model facts"),
    ("export-eps-nan", lambda t, f: ["export", "denoise-weights", "-o", str(t / "m.onnx"), "--eps", "nan"], 2,
     "invalid model facts"),
    ("export-suffix", lambda t, f: ["export", "denoise-weights", "-o", str(t / "m.bin")], 2, "must end in .onnx"),
    ("eval-limit-0", lambda t, f: ["eval", "denoise-weights", "--limit", "0", "--out", str(t)], 2,
     "--limit must be >= 1"),
    ("eval-flicker-frames", lambda t, f: ["eval", "denoise-weights", "--flicker", str(f["clip"]), "--frames", "1",
                                          "--out", str(t)], 2, "--frames must be at least 2"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_command_lines(case, tmp_path, files, capsys):
    from indi_edge import models

    _, make, code, message = case
    argv = [models.path("denoise", "weights").as_posix() if a == "denoise-weights" else a
            for a in make(tmp_path, files)]
    kept = {name: path.read_bytes() for name, path in files.items() if path.is_file()}
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1  # one line
    assert {name: path.read_bytes() for name, path in files.items() if path.is_file()} == kept  # inputs untouched
    assert not list(tmp_path.rglob("*.partial*"))  # no temporary file left


def test_the_matrix_has_at_least_40_cases():
    assert len(FRAME_CASES) + len(MODEL_CASES) + len(CLI_CASES) >= 40
