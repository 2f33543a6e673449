"""benchmarks/campaign.py's bookkeeping: CPU-hours over processes, when a run is finished, which decay
branch a new segment works on. No training here: the run folders are written by hand."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "campaign.py"


@pytest.fixture(scope="module")
def campaign():
    spec = importlib.util.spec_from_file_location("campaign", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(run: Path, steps: int, log: list[dict], checkpoint_step: int | None = None) -> Path:
    from safetensors.numpy import save_file

    run.mkdir(parents=True, exist_ok=True)
    (run / "train_config.json").write_text(json.dumps({"steps": steps}))
    (run / "log.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in log))
    if checkpoint_step is not None:
        save_file({"w": np.zeros(1, np.float32)}, str(run / "checkpoint.safetensors"),
                  metadata={"step": str(checkpoint_step)})
    return run


def test_cpu_hours_add_up_each_process_of_the_log(campaign, tmp_path):
    # two processes: the second one's count starts again at 0
    log = [{"step": 20, "cpu_s": 1800.0}, {"step": 40, "cpu_s": 3600.0}, {"step": 60, "cpu_s": 900.0},
           {"step": 80, "cpu_s": 1800.0}]
    assert campaign.cpu_hours(write_run(tmp_path / "run", 100, log)) == pytest.approx(1.5)


def test_a_run_is_finished_when_its_log_reaches_its_steps(campaign, tmp_path):
    assert not campaign.finished(write_run(tmp_path / "a", 100, [{"step": 80, "cpu_s": 1.0}]))
    assert campaign.finished(write_run(tmp_path / "b", 100, [{"step": 100, "cpu_s": 1.0}]))
    assert not campaign.finished(tmp_path / "never-started")


def test_a_new_branch_is_named_by_the_campaign_step_it_leaves_from(campaign, tmp_path):
    base = write_run(tmp_path / "motion", 10**6, [{"step": 47000, "cpu_s": 1.0}], checkpoint_step=46750)
    write_run(tmp_path / "motion-decay-21000", 5000, [{"step": 5000, "cpu_s": 1.0}])  # finished
    assert campaign.branch_run(base) == tmp_path / "motion-decay-46750"


def test_an_unfinished_branch_is_resumed_before_a_new_one_starts(campaign, tmp_path):
    base = write_run(tmp_path / "motion", 10**6, [{"step": 47000, "cpu_s": 1.0}], checkpoint_step=46750)
    write_run(tmp_path / "motion-decay-40000", 5000, [{"step": 3000, "cpu_s": 1.0}])
    assert campaign.branch_run(base) == tmp_path / "motion-decay-40000"


def test_a_segment_records_the_precision_its_run_trained_in(campaign, tmp_path):
    run = write_run(tmp_path / "run", 100, [{"step": 20, "cpu_s": 1.0}])
    config = json.loads((run / "train_config.json").read_text())
    for amp, precision in (("bf16", "bf16"), ("off", "fp32")):
        (run / "train_config.json").write_text(json.dumps({**config, "amp": amp}))
        assert campaign.trained_precision(run) == precision


def test_a_segment_is_labelled_with_the_cpu_that_trained_it_not_the_one_scoring_it(campaign, tmp_path, monkeypatch):
    from indi_edge.cpu_features import cpu_features

    run = write_run(tmp_path / "run", 100, [{"step": 20, "cpu_s": 1.0}])
    assert campaign.trained_on(run) == "not recorded"  # trained before the record existed
    commands = []
    monkeypatch.setattr(campaign.subprocess, "run", lambda command, check: commands.append(command))
    campaign.train_segment(run, ["--task", "denoise"], 30.0)
    assert commands and "--resume" not in commands[0]  # no checkpoint yet: a fresh start
    assert campaign.trained_on(run) == cpu_features().model
    (run / campaign.TRAINED_ON).write_text("AMD EPYC\n")  # the segment came from another session's machine
    assert campaign.trained_on(run) == "AMD EPYC"


def test_a_curve_from_before_the_precision_column_grows_and_plots(campaign, tmp_path):
    pytest.importorskip("matplotlib")
    old_fields = campaign.FIELDS[:campaign.FIELDS.index("precision")]  # and before the lr column
    curve = tmp_path / "campaign_motion.csv"
    curve.write_text(",".join(old_fields) + "\n" + "1,1781,0.256,0.273,0.047,0.002,0.114,0.003,-6.2,Xeon,2026-12-05 00:41\n")
    table = campaign.rows(curve)
    table.append({**table[0], "segment": "2", "cpu_h": "0.5", "heldout_gain": "0.06", "precision": "fp32"})
    campaign.write_rows(table, curve)
    assert [r["precision"] for r in campaign.rows(curve)] == ["", "fp32"]
    campaign.plot(campaign.rows(curve), tmp_path / "campaign_motion.png", "motion", {"target": 2.5})
    assert (tmp_path / "campaign_motion.png").stat().st_size > 0


def test_a_segment_records_its_lr_and_the_plot_marks_where_a_phase_steps_it_down(campaign, tmp_path):
    pytest.importorskip("matplotlib")
    run = write_run(tmp_path / "run", 100, [{"step": 20, "cpu_s": 1.0}])
    (run / "train_config.json").write_text(json.dumps({"steps": 100, "lr": 5e-4}))
    assert campaign.trained_lr(run) == 5e-4
    rows = [{"segment": str(i + 1), "step": str(10 * i), "cpu_h": str(0.5 * i), "wall_h": str(0.5 * i),
             "heldout_gain": "1.4", "heldout_worst": "0.3", "video_gain": "1.7", "video_worst": "0.6", "loss": "-7",
             "cpu": "EPYC", "time": "", "precision": "bf16", "lr": lr} for i, lr in enumerate(["", "0.001", "0.0005"])]
    curve = tmp_path / "campaign_motion.csv"
    campaign.write_rows(rows, curve)
    assert [r["lr"] for r in campaign.rows(curve)] == ["", "0.001", "0.0005"]
    campaign.plot(campaign.rows(curve), tmp_path / "campaign_motion.png", "motion")
    assert (tmp_path / "campaign_motion.png").stat().st_size > 0


def curve_rows(points: list[tuple[float, int, float]]) -> list[dict]:
    return [{"cpu_h": str(h), "step": str(step), "heldout_gain": str(gain)} for h, step, gain in points]


def test_the_flat_stretch_reaches_back_to_the_last_rise_of_the_tolerance(campaign):
    table = curve_rows([(4.0, 40000, 0.90), (4.5, 45000, 1.00), (5.0, 50000, 1.04), (5.5, 51000, 1.02), (6.0, 52000, 1.06)])
    # from 4.5 h the gain rose 0.06 (>= 0.05): the stretch starts after it, at 5.0 h
    assert campaign.flat_stretch(table, 0.05) == (1.0, 2000)
    assert campaign.flat_stretch(table, 0.2) == (2.0, 12000)


def test_a_curve_still_rising_at_its_end_is_flat_for_nothing(campaign):
    table = curve_rows([(1.0, 1000, 0.5), (1.5, 2000, 0.6), (2.0, 3000, 0.7)])
    assert campaign.flat_stretch(table, 0.05) == (0.0, 0)
    assert campaign.flat_stretch([], 0.05) == (0.0, 0)


def test_a_tagged_branch_is_named_and_resumed_apart_from_the_plain_one(campaign, tmp_path):
    base = write_run(tmp_path / "motion", 10**6, [{"step": 47000, "cpu_s": 1.0}], checkpoint_step=46750)
    write_run(tmp_path / "motion-decay-40000", 5000, [{"step": 3000, "cpu_s": 1.0}])  # unfinished, untagged
    assert campaign.branch_run(base, "t1") == tmp_path / "motion-decay-46750-t1"
    write_run(tmp_path / "motion-decay-46750-t1", 5000, [{"step": 100, "cpu_s": 1.0}])
    assert campaign.branch_run(base, "t1") == tmp_path / "motion-decay-46750-t1"
    assert campaign.branch_run(base) == tmp_path / "motion-decay-40000"


def test_the_plot_draws_the_decay_branches_and_the_grown_nets_beside_the_campaign(campaign, tmp_path):
    for name in ("campaign_motion_decay-40000-t1", "campaign_motion_grown-deep", "campaign_motion_grown-deep_decay-9",
                 "campaign_motion_lost", "campaign_motion", "campaign_denoise_decay-5"):
        (tmp_path / f"{name}.csv").write_text("")
    assert [p.stem for p in campaign.branch_curves(tmp_path / "campaign_motion.png")] == [
        "campaign_motion_decay-40000-t1", "campaign_motion_grown-deep", "campaign_motion_grown-deep_decay-9"]
