"""TensorRT engines: everything around TensorRT that runs without it (version paths, profiles, cache
keys, sidecars, the t-path precision choice, the build log, the CLI and the errors when TensorRT or
a GPU is missing), and, marked `tensorrt`, a real build and run that skips where TensorRT is absent.
No fake tensorrt module stands in for TensorRT anywhere here."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util

import numpy as np
import pytest

from indi_edge import cli, cuda_runtime
from indi_edge.model_info import ModelInfo
from indi_edge.tensorrt import builder, cache, log, profiles, version
from indi_edge.tensorrt.cache import EngineKey, EngineSidecar
from indi_edge.tensorrt.profiles import Profile

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
needs_no_tensorrt = pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")


# --- version detection -----------------------------------------------------------------------------

def test_versions_are_parsed_and_below_10_refused():
    assert version.parse_version("10.3.0") == (10, 3, 0)
    assert version.parse_version("10.3.0.26") == (10, 3, 0)
    assert version.parse_version("11.0") == (11, 0, 0)
    with pytest.raises(ValueError, match=r"TensorRT 8\.6\.1 is too old.*10 or newer"):
        version.parse_version("8.6.1")
    with pytest.raises(ValueError, match="cannot read a TensorRT version"):
        version.parse_version("ten")


def test_tensorrt_10_builds_fp16_with_the_builder_flag_and_an_fp32_t_path():
    mode = version.build_mode("10.3.0", "fp16", "fp32")
    assert (mode.fp16_flag, mode.pin_t_path_fp32, mode.strongly_typed) == (True, True, False)
    assert "BuilderFlag.FP16" in mode.describe()
    fp32 = version.build_mode("10.3.0", "fp32", "fp32")
    assert (fp32.fp16_flag, fp32.pin_t_path_fp32, fp32.strongly_typed) == (False, False, False)
    from_fp16_onnx = version.build_mode("10.3.0", "fp16", "fp16")
    assert from_fp16_onnx.strongly_typed and not from_fp16_onnx.fp16_flag


def test_tensorrt_11_is_strongly_typed_and_needs_the_fp16_onnx():
    mode = version.build_mode("11.0.0", "fp16", "fp16")
    assert mode.strongly_typed and not mode.fp16_flag and mode.precision == "fp16"
    assert version.build_mode("11.0.0", "fp32", "fp32").strongly_typed
    with pytest.raises(ValueError, match=r"strongly typed.*indi-edge export --fp16 --fp16-io"):
        version.build_mode("11.0.0", "fp16", "fp32")


def test_impossible_builds_are_refused():
    with pytest.raises(ValueError, match="too old"):
        version.build_mode("8.6.1", "fp16", "fp32")
    with pytest.raises(ValueError, match="fp32 engine needs the fp32 ONNX"):
        version.build_mode("10.3.0", "fp32", "fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        version.build_mode("10.3.0", "int8", "fp32")


# --- profiles ----------------------------------------------------------------------------------------

def test_shapes_parse_in_both_spellings():
    assert profiles.parse_shape("2x3x720x1280") == (2, 3, 720, 1280)
    assert profiles.parse_shape("720x1280") == (1, 3, 720, 1280)
    for bad in ("720", "1x3x720", "720x1280x", "a x b", "1x3x720x1280x2"):
        with pytest.raises(ValueError, match="NxCxHxW"):
            profiles.parse_shape(bad)


def test_shapes_must_be_multiples_and_the_padded_size_is_suggested():
    assert profiles.check_shape((1, 3, 720, 1280), 16) == (1, 3, 720, 1280)
    with pytest.raises(ValueError, match=r"multiples of the model's size multiple 16.*use 1x3x1088x1920"):
        profiles.check_shape((1, 3, 1080, 1920), 16, "--max")
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        profiles.check_shape((1, 4, 16, 16), 16)
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        profiles.check_shape((0, 3, 16, 16), 16)


def test_a_dynamic_profile_from_min_opt_max():
    (p,) = profiles.profiles_from_args("1x3x256x256", "1x3x720x1280", "4x3x1088x1920", None, 16)
    assert p == Profile((1, 3, 256, 256), (1, 3, 720, 1280), (4, 3, 1088, 1920))
    (q,) = profiles.profiles_from_args("256x256", None, "1088x1920", None, 16)
    assert q.opt == q.max == (1, 3, 1088, 1920)  # --opt defaults to --max
    with pytest.raises(ValueError, match="min <= opt <= max"):
        profiles.profiles_from_args("1x3x512x512", "1x3x256x256", "1x3x1088x1920", None, 16)
    with pytest.raises(ValueError, match="both --min and --max"):
        profiles.profiles_from_args("256x256", None, None, None, 16)
    with pytest.raises(ValueError, match="not both"):
        profiles.profiles_from_args("256x256", None, "512x512", ["256x256"], 16)
    with pytest.raises(ValueError, match=r"--max 1x3x1080x1920.*use 1x3x1088x1920"):
        profiles.profiles_from_args("256x256", None, "1080x1920", None, 16)


def test_static_profiles_one_per_shape_and_the_default_rounded_to_the_multiple():
    static = profiles.profiles_from_args(None, None, None, ["512x512", "256x256", "512x512"], 16)
    assert [p.min for p in static] == [(1, 3, 512, 512), (1, 3, 256, 256)]
    assert all(p.min == p.opt == p.max for p in static)
    (default,) = profiles.profiles_from_args(None, None, None, None, 16)
    assert default.max == (1, 3, 1088, 1920) and default.opt == (1, 3, 720, 1280)
    (coarse,) = profiles.profiles_from_args(None, None, None, None, 64)
    assert all(v % 64 == 0 for v in coarse.min[2:] + coarse.opt[2:] + coarse.max[2:])


def static(h: int, w: int) -> Profile:
    return Profile((1, 3, h, w), (1, 3, h, w), (1, 3, h, w))


def test_profile_selection_and_rejection():
    tiles = [static(256, 256), static(512, 512)]
    dynamic = Profile((1, 3, 64, 64), (1, 3, 720, 1280), (2, 3, 1088, 1920))
    assert profiles.select_profile(tiles, (1, 3, 512, 512)) == 1
    assert profiles.select_profile(tiles + [dynamic], (1, 3, 320, 640)) == 2
    with pytest.raises(ValueError, match=r"input 3x3x720x1280 is outside.*2x3x1088x1920.*build-engine"):
        profiles.select_profile([dynamic], (3, 3, 720, 1280))
    with pytest.raises(ValueError, match="256x256; 1x3x512x512"):
        profiles.select_profile(tiles, (1, 3, 384, 384))
    assert Profile.from_json(dynamic.to_json()) == dynamic


# --- cache key and sidecar -----------------------------------------------------------------------------

KEY = EngineKey("ab" * 32, (Profile((1, 3, 256, 256), (1, 3, 720, 1280), (1, 3, 1088, 1920)),), "fp16",
                "10.3.0", "Orin", (8, 7))
CHANGES = {"onnx_sha256": "cd" * 32, "profiles": (static(512, 512),), "precision": "fp32",
           "tensorrt_version": "10.4.0", "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": (9, 0),
           "optimization_level": 5, "workspace_mb": 1024}


def test_every_field_of_the_key_changes_it():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(EngineKey)}
    digests = {KEY.digest()}
    for field, value in CHANGES.items():
        other = dataclasses.replace(KEY, **{field: value})
        assert KEY.mismatches(other) == [field]
        digests.add(other.digest())
    assert len(digests) == len(CHANGES) + 1
    assert EngineKey.from_json(KEY.to_json()) == KEY
    assert cache.cached_engine_path("/c", "motion.onnx", KEY).name == f"motion-fp16-{KEY.digest()[:16]}.engine"


def test_a_cached_engine_is_reused_only_when_every_field_matches(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"serialized engine")
    assert cache.find_cached(engine, KEY) is None  # no sidecar
    cache.write_sidecar(engine, EngineSidecar(KEY, ModelInfo(), {"x": "float32", "t": "float32"}, {"x0": "float32"}))
    assert cache.find_cached(engine, KEY) == engine
    for field, value in CHANGES.items():
        assert cache.find_cached(engine, dataclasses.replace(KEY, **{field: value})) is None, field
    cache.sidecar_path(engine).write_text("{not json")
    assert cache.find_cached(engine, KEY) is None


def test_the_sidecar_carries_the_model_facts_both_ways(tmp_path):
    info = ModelInfo(task="motion-deblur", multiple=16, steps=4, eps=0.05, eps_schedule="brownian", sampler="cold",
                     preset="edge-s", unet_config='{"channels": 16}', metrics='{"psnr": 30.1}')
    sidecar = EngineSidecar(KEY, info, {"x": "float16", "t": "float32"}, {"x0": "float16"}, "TensorRT 10.3.0, fp16")
    path = cache.write_sidecar(tmp_path / "m.engine", sidecar)
    assert path.name == "m.engine.json"
    assert cache.read_sidecar(tmp_path / "m.engine") == sidecar
    raw = path.read_text()
    path.write_text(raw.replace('"format": 1', '"format": 99'))
    with pytest.raises(ValueError, match="format 99"):
        cache.read_sidecar(tmp_path / "m.engine")
    with pytest.raises(ValueError, match=r"no sidecar other.engine.json.*indi-edge build-engine"):
        cache.read_sidecar(tmp_path / "other.engine")


def test_the_onnx_facts_that_go_into_key_and_sidecar(tiny_onnx, tiny_info):
    facts = builder.read_onnx(tiny_onnx)
    assert facts.sha256 == hashlib.sha256(tiny_onnx.read_bytes()).hexdigest()
    assert facts.precision == "fp32"
    assert facts.info == tiny_info.replace(unrolled_steps=0)
    device = cuda_runtime.DeviceInfo("Orin", (8, 7), 16 << 30, True)
    key = builder.engine_key(facts, KEY.profiles, "fp16", "10.3.0", device)
    assert key == dataclasses.replace(KEY, onnx_sha256=facts.sha256)
    assert builder.default_timing_cache("10.3.0", device).name == "tensorrt-10.3.0-sm_87.timing"


# --- which layers stay fp32 under BuilderFlag.FP16 -----------------------------------------------------

def test_the_t_path_is_the_layers_fed_by_t_and_constants_only():
    layers = [("w", [], ["w"]), ("emb", ["t"], ["e"]), ("mlp", ["e", "w"], ["m"]), ("conv", ["x", "w"], ["h"]),
              ("film", ["h", "m"], ["f"]), ("shape", ["x"], ["s"]), ("proj", ["m"], ["p"])]
    assert builder.scalar_path_layers(layers) == ["emb", "mlp", "proj"]


def test_the_t_path_on_a_real_export_matches_what_the_fp16_export_keeps_fp32(tiny_onnx):
    import onnx

    from indi_edge.export.fp16 import scalar_path_nodes

    graph = onnx.load(str(tiny_onnx)).graph
    # As a TensorRT network sees it: initializers are constant layers without inputs.
    layers = [(i.name, [], [i.name]) for i in graph.initializer]
    layers += [(n.name, [i for i in n.input if i], list(n.output)) for n in graph.node]
    chosen = builder.scalar_path_layers(layers)
    by_name = {n.name: n for n in graph.node}
    computing = {n for n in scalar_path_nodes(graph) if any(by_name[n].input)}  # Constant nodes hold data
    assert chosen and set(chosen) == computing
    assert all("x" not in by_name[name].input for name in chosen)
    assert any(n.op_type in ("Sin", "Cos") for n in (by_name[c] for c in chosen))


# --- the build log ----------------------------------------------------------------------------------------

def test_the_build_log_reports_phases_progress_and_errors():
    now = [0.0]
    lines: list[str] = []
    build_log = log.BuildLog(write=lines.append, clock=lambda: now[0])
    build_log.message("INFO", "quiet unless verbose")
    build_log.message("WARNING", "a warning")
    build_log.phase_start("Building engine", None, 2)
    build_log.phase_start("Tactic search", "Building engine", 40)
    for step in range(40):
        now[0] += 0.5
        assert build_log.step_complete("Tactic search", step) is True
    build_log.phase_finish("Tactic search")
    build_log.message("ERROR", "out of memory")
    build_log.phase_finish("Building engine")
    text = "\n".join(lines)
    assert "quiet" not in text and "TensorRT warning: a warning" in text
    assert "  Tactic search (40 steps)" in text and "Tactic search: 20/40" in text
    assert "Tactic search done in 20.0 s" in text and lines[-1].startswith("[   20.0 s]")
    assert sum("Tactic search: " in line for line in lines) == 9  # about every 10%, not every step
    assert build_log.errors == ["out of memory"]
    verbose: list[str] = []
    log.BuildLog(write=verbose.append, verbose=True).message("INFO", "shown")
    assert "TensorRT info: shown" in verbose[0]


# --- without TensorRT or a GPU ------------------------------------------------------------------------------

@needs_no_tensorrt
def test_without_tensorrt_the_error_says_how_to_get_it():
    with pytest.raises(RuntimeError, match=r"TensorRT is not installed.*JetPack 6.*pip install tensorrt.*\.onnx"):
        version.tensorrt_module()


def write_engine_with_sidecar(path, info=ModelInfo(multiple=2, steps=2)):
    path.write_bytes(b"not a real engine")
    cache.write_sidecar(path, EngineSidecar(KEY, info, {"x": "float32", "t": "float32"}, {"x0": "float32"}))
    return path


@needs_no_tensorrt
def test_restorer_on_an_engine_without_tensorrt(tmp_path):
    from indi_edge.restorer import Restorer

    engine = write_engine_with_sidecar(tmp_path / "m.engine")
    with pytest.raises(RuntimeError, match="TensorRT is not installed"):
        Restorer(engine)
    cache.sidecar_path(engine).unlink()
    with pytest.raises(ValueError, match="no sidecar m.engine.json"):
        Restorer(engine)


def test_an_engine_from_another_machine_is_refused_with_what_differs():
    from indi_edge.backends.tensorrt import check_portable

    here = cuda_runtime.DeviceInfo("NVIDIA H100 80GB HBM3", (9, 0), 80 << 30, False)
    with pytest.raises(ValueError, match=r"built with TensorRT 10.3.0 for Orin \(sm_87\).*TensorRT 10.3.0 and "
                                         r"NVIDIA H100.*not portable.*build-engine"):
        check_portable(KEY, "10.3.0", here, "m.engine")
    check_portable(KEY, "10.3.0", cuda_runtime.DeviceInfo("Orin", (8, 7), 0, True), "m.engine")
    with pytest.raises(ValueError, match="TensorRT 10.3.0 for Orin"):
        check_portable(KEY, "10.4.0", cuda_runtime.DeviceInfo("Orin", (8, 7), 0, True), "m.engine")


# --- the CLI ---------------------------------------------------------------------------------------------------

def test_build_engine_help(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["build-engine", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--min", "--opt", "--max", "--shape", "--precision", "--workspace", "--timing-cache",
                   "--fp16 --fp16-io", "1088"):
        assert option in text


@needs_no_tensorrt
def test_build_engine_refuses_clearly_without_tensorrt(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "tiny.engine"
    assert cli.main(["build-engine", str(tiny_onnx), "-o", str(out), "--min", "16x16", "--max", "64x64"]) == 2
    err = capsys.readouterr().err
    assert "TensorRT is not installed" in err and "pip install tensorrt" in err
    assert not out.exists()


def test_build_engine_checks_its_arguments_first(tiny_onnx, tmp_path, capsys):
    assert cli.main(["build-engine", str(tiny_onnx), "-o", str(tmp_path / "t.engine"), "--shape", "15x16"]) == 2
    assert "use 1x3x16x16" in capsys.readouterr().err  # the tiny model's multiple is 2
    assert cli.main(["build-engine", str(tiny_onnx), "-o", str(tmp_path / "t.plan")]) == 2
    assert "must end in .engine" in capsys.readouterr().err
    assert cli.main(["build-engine", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "t.engine")]) == 2
    assert "no ONNX model" in capsys.readouterr().err


# --- on real TensorRT and a GPU (skipped where either is missing) -------------------------------------------------

@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT or cuda_runtime.device_count() == 0, reason="needs TensorRT and a CUDA GPU")
def test_a_real_engine_restores_like_onnx_runtime(tiny_onnx, tmp_path):
    from indi_edge.restorer import Restorer
    from indi_edge.tensorrt import BuildOptions, build_engine

    engine = tmp_path / "tiny.engine"
    options = BuildOptions(precision="fp32", profiles=(Profile((1, 3, 16, 16), (2, 3, 32, 48), (2, 3, 64, 64)),),
                           timing_cache=tmp_path / "timing.cache")
    build_engine(tiny_onnx, engine, options)
    assert (tmp_path / "tiny.engine.json").is_file() and (tmp_path / "timing.cache").is_file()
    assert build_engine(tiny_onnx, engine, options) == engine  # reused: same key
    y = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 48)).astype(np.float32)
    onnx_restorer = Restorer(tiny_onnx, threads=1, tile=0)
    engine_restorer = Restorer(engine, tile=0)
    reference = onnx_restorer.restore_array(y)
    first = engine_restorer.restore_array(y)   # step by step, then captured
    replayed = Restorer(engine, tile=0)
    replayed.restore_array(y)
    again = replayed.restore_array(y)          # CUDA-graph replay (frame numbers differ: eps is 0)
    np.testing.assert_allclose(first, reference, atol=1e-3)
    np.testing.assert_array_equal(again, first)
    frame = (np.random.default_rng(1).uniform(0, 255, (30, 40, 3))).astype(np.uint8)
    on_gpu = engine_restorer.backend.restore_frame(frame)
    assert np.abs(on_gpu.astype(int) - onnx_restorer.run(frame)).max() <= 1


# --- the accuracy check after a build ------------------------------------------------------------------

def test_an_engine_far_from_its_onnx_fails_the_build_check():
    """compare() is what build-engine runs on the GPU (engine vs ONNX Runtime on the CPU); here two
    Restorers on callables stand in for them: this checks the threshold logic, not TensorRT."""
    from indi_edge.restorer import Restorer
    from indi_edge.tensorrt import accuracy

    frame = accuracy.check_frame(64)
    reference = Restorer(lambda x, t: x * 0.9, steps=1)
    close = Restorer(lambda x, t: x * 0.9 + 1e-4, steps=1)          # fp16-like rounding: passes
    overflowing = Restorer(lambda x, t: np.clip(x * 0.9 * 1.3, -1, 1), steps=1)  # visibly off: fails
    assert min(accuracy.compare(close, reference, "fp16", frame).values()) >= 40.0
    with pytest.raises(accuracy.InaccurateEngine, match="fp16 engine is .* dB from the ONNX model"):
        accuracy.compare(overflowing, reference, "fp16", frame)
    with pytest.raises(accuracy.InaccurateEngine):  # fp32 engines are held to 60 dB
        accuracy.compare(Restorer(lambda x, t: x * 0.9 + 2e-3, steps=1), reference, "fp32", frame)


def test_build_engine_builds_on_the_gpu_it_is_given(tiny_onnx, tmp_path, monkeypatch):
    """--device reaches the builder's options (the build itself needs TensorRT and a GPU)."""
    import indi_edge.tensorrt as trt_package
    from indi_edge.tensorrt import version as trt_version

    seen = {}
    monkeypatch.setattr(trt_version, "tensorrt_module", lambda: None)
    monkeypatch.setattr(trt_package, "build_engine", lambda onnx, output, options, **kw: seen.setdefault("o", options))
    assert cli.main(["build-engine", str(tiny_onnx), "-o", str(tmp_path / "m.engine"), "--device", "1",
                     "--no-check"]) == 0
    assert seen["o"].device == 1
