"""`indi-edge train --compile`: the same training as eager mode.

Kept out of tests/ and run by its own pytest process (.ci/run, the README's test command): at the end
of the full suite, with ~750 tests' native libraries loaded, the pytest process itself crashed (SIGSEGV)
while this test's training process ran, whether the compile ran in-process or in a child with its own
inductor cache; alone, or after the ONNX, OpenVINO and .pt2 tests, it passes. Not yet explained.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def read_log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_compiled_training_takes_the_same_steps_as_eager(tmp_path):
    from indi_edge.training import nn as unet

    pairs = tmp_path / "pairs"  # smooth random images and a blurred twin
    for folder in ("x", "y"):
        (pairs / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        x = cv2.GaussianBlur((rng.random((48, 40, 3)) * 255).astype(np.uint8), (0, 0), 2)
        cv2.imwrite(str(pairs / "x" / f"{i}.png"), x)
        cv2.imwrite(str(pairs / "y" / f"{i}.png"), cv2.GaussianBlur(x, (0, 0), 2))
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    for run, extra in (("eager", []), ("compiled", ["--compile"])):
        subprocess.run([sys.executable, "-m", "indi_edge.cli", "train", "--pairs", str(pairs), "--out",
                        str(tmp_path / run), "--preset", "edge-s", "--steps", "20", "--batch", "4", "--crop", "32",
                        "--lr", "2e-3", "--save-every", "20", "--seed", "1", "--amp", "off", "--threads", "1",
                        "--quiet", *extra], check=True, capture_output=True, env=env)
    eager, compiled = read_log(tmp_path / "eager"), read_log(tmp_path / "compiled")
    assert compiled[-1]["loss"] == pytest.approx(eager[-1]["loss"], rel=1e-3)
    a, b = (unet.load(tmp_path / run / "weights.safetensors") for run in ("eager", "compiled"))
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-3)
    assert compiled[-1]["cpu_s"] > eager[-1]["cpu_s"]  # the compilation (its compiler processes too) is counted
