"""`indi-edge info`: a person's view by default (aligned lines, the metrics as a table, the training
summarised), everything with --full or --json."""
from __future__ import annotations

import json

from indi_edge import cli

MODEL = ["motion-deblur", "--backend", "onnxruntime"]


def test_default_view_is_short_lines_with_a_metrics_table(capsys):
    assert cli.main(["info", *MODEL]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 140
    text = "\n".join(lines)
    assert '{"' not in text and " && " not in text  # no raw JSON, no command chain
    head = next(i for i, line in enumerate(lines) if line.split() == ["method", "steps", "PSNR", "SSIM", "detail"])
    assert lines[head + 1].split()[0] == "input" and lines[head + 1].split()[1] == "-"
    assert any(line.split()[:2] == ["indi", "1"] for line in lines[head:])
    for key in ("task:", "training:", "training data:", "held-out:", "gain by extent:", "sharp frames:"):
        assert any(line.startswith(key) for line in lines), key
    keyed = [line for line in lines if not line.startswith("  ")]
    value_columns = {len(line) - len(line[line.index(":") + 1:].lstrip()) for line in keyed}
    assert len(value_columns) == 1  # the values start in one column


def test_full_and_json_keep_every_field_whole(capsys):
    from indi_edge import models
    from indi_edge.backends.onnx import make_session

    meta = make_session(models.path("motion-deblur"), ["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert cli.main(["info", *MODEL, "--full"]) == 0
    full = capsys.readouterr().out
    assert meta["indi_edge.train_command"] in full and meta["indi_edge.metrics"] in full
    assert cli.main(["info", *MODEL, "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["train_command"] == meta["indi_edge.train_command"]
    assert fields["metrics"] == json.loads(meta["indi_edge.metrics"])
