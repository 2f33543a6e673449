"""`indi-edge restore --ray`: Ray Data on a local 2-CPU Ray. Outputs equal the single-process ones;
an actor that dies mid-run is replaced and its file restored again, none lost or written twice."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="needs Ray Data (the [ray] extra)")
pytest.importorskip("av", reason="the videos need PyAV (the [video] extra)")

from indi_edge import cli, video  # noqa: E402
from indi_edge.restorer import Restorer  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_in")
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"photo{i}.png"), rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    for i in range(2):
        video.write_frames(folder / f"clip{i}.mkv", [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
                                                    for _ in range(5 + i)], 12.0)
    return folder


def single_process(inputs, out):
    video.restore_folder(Restorer("denoise", steps=1, threads=1), inputs, out, progress=False)
    return out


def same_outputs(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name.endswith(".png"):
            assert (a / name).read_bytes() == (b / name).read_bytes()
        else:  # FFV1: lossless, so the decoded frames must match exactly
            with video.sources.av_module().open(str(a / name)) as x, video.sources.av_module().open(str(b / name)) as y:
                fx = [f.to_ndarray(format="bgr24") for f in x.decode(video=0)]
                fy = [f.to_ndarray(format="bgr24") for f in y.decode(video=0)]
            assert len(fx) == len(fy) and all(np.array_equal(p, q) for p, q in zip(fx, fy))


def test_ray_outputs_equal_the_single_process_ones(inputs, tmp_path, capsys):
    assert cli.main(["restore", str(inputs), "-o", str(tmp_path / "ray"), "--model", "denoise", "--steps", "1",
                     "--ray", "--ray-actors", "2", "--quiet"]) == 0
    assert "wrote 5 files (14 frames)" in capsys.readouterr().out  # 3 photos + 5 + 6 video frames
    same_outputs(tmp_path / "ray", single_process(inputs, tmp_path / "one"))


def test_an_actor_killed_mid_run_loses_and_duplicates_nothing(inputs, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "crashed"
    monkeypatch.setenv("INDI_EDGE_RAY_CRASH_ONCE", str(marker))  # the first actor to start a file dies
    assert cli.main(["restore", str(inputs), "-o", str(tmp_path / "ray"), "--model", "denoise", "--steps", "1",
                     "--ray", "--ray-actors", "2", "--quiet"]) == 0
    assert marker.exists()  # an actor did die
    assert "wrote 5 files (14 frames)" in capsys.readouterr().out
    same_outputs(tmp_path / "ray", single_process(inputs, tmp_path / "one"))
    assert not list((tmp_path / "ray").glob(".*partial*"))
