"""The indi-edge command: every subcommand has --help, presets report, train runs end to end."""
import json
import subprocess
import sys

import pytest

from indi_edge import cli


def test_every_subcommand_has_help(capsys):
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: indi-edge " + name in capsys.readouterr().out


def test_console_script_help(tmp_path):
    out = subprocess.run([sys.executable, "-m", "indi_edge.cli", "--help"], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    for name in cli.COMMANDS:
        assert name in out


def test_presets_json(capsys):
    assert cli.main(["presets", "--json"]) == 0
    rows = {r["preset"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["edge-s"]["params"] <= 1_000_000 and rows["edge-s"]["macs_per_pixel"] <= 40_000
    assert abs(rows["paper-motion"]["params"] / rows["paper-motion"]["paper_params"] - 1) < 0.05


def test_train_cli_records_its_command(tmp_path, capsys):
    import cv2
    import numpy as np

    from indi_edge.model_info import ModelInfo
    from indi_edge.training import nn as unet

    for sub in ("x", "y"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "pairs" / sub / "a.png"), np.full((32, 32, 3), 100 if sub == "x" else 90, np.uint8))
    argv = ["train", "--pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--steps", "3",
            "--batch", "2", "--crop", "16", "--quiet", "--threads", "1", "--loss", "l2", "--no-harm", "0.01"]
    assert cli.main(argv) == 0
    info = ModelInfo.from_metadata(unet.read_metadata(tmp_path / "run" / "weights.safetensors"))
    assert info.train_command.startswith("indi-edge train --pairs")
    recorded = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert recorded["loss"] == "l2" and recorded["no_harm"] == 0.01


def test_dead_leaves_share_with_paired_folders_is_a_user_error(tmp_path, capsys):
    (tmp_path / "pairs" / "x").mkdir(parents=True)
    argv = ["train", "--pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--dead-leaves-share", "0.5",
            "--quiet"]
    assert cli.main(argv) == 2
    assert "--dead-leaves-share applies to --task motion-deblur only, not to --pairs" in capsys.readouterr().err
    argv[-3:-1] = ["--photo-scales", "1,0.5"]
    assert cli.main(argv) == 2
    assert "--photo-scales applies to --task motion-deblur only" in capsys.readouterr().err
    argv[-3:-1] = ["--photo-scales", "1,half"]
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert "expected numbers separated by commas" in capsys.readouterr().err


def test_user_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["train", "--pairs", str(tmp_path / "nope"), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
