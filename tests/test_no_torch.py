"""The runtime never imports torch: `import indi_edge`, restoring with an ONNX model (frames,
tiles, unrolled graphs, video) and building the CLI, each checked in a fresh interpreter."""
from __future__ import annotations

import subprocess
import sys
import textwrap



def modules_after(code: str) -> set[str]:
    """Top-level module names loaded after running `code` in a fresh Python."""
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_import_indi_edge_is_light():
    loaded = modules_after("import indi_edge; indi_edge.__version__")
    assert "torch" not in loaded and "onnxruntime" not in loaded and "indi_edge" in loaded


def test_models_and_ops_are_reachable_from_the_package_without_torch():
    loaded = modules_after("""
        import indi_edge
        assert indi_edge.models.path("motion-deblur").suffix == ".onnx"
        assert indi_edge.ops.backend() in ("cuda", "cpu-native", "numpy")
    """)
    assert "torch" not in loaded


def test_restoring_with_onnx_never_imports_torch(tiny_onnx, tmp_path):
    loaded = modules_after(f"""
        import numpy as np
        import indi_edge
        from indi_edge import video
        restorer = indi_edge.Restorer({str(tiny_onnx)!r}, threads=1, tile=16, overlap=4, backend="onnxruntime")
        out = restorer.run(np.zeros((20, 30, 3), np.uint8))
        assert out.shape == (20, 30, 3)
        video.write_image({str(tmp_path / "out.png")!r}, out)
        assert restorer.providers == ["CPUExecutionProvider"]
        auto = indi_edge.Restorer({str(tiny_onnx)!r}, threads=1)  # whatever this CPU's default path is
        assert auto.run(np.zeros((20, 30, 3), np.uint8)).shape == (20, 30, 3)
        assert not auto.providers[0].startswith("torch")
    """)
    assert "onnxruntime" in loaded  # it really ran ONNX Runtime
    assert "torch" not in loaded  # neither path imported torch (tiny.safetensors lies beside tiny.onnx)


def test_the_restore_cli_never_imports_torch(tiny_onnx, tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "in.png"), np.full((12, 10, 3), 90, np.uint8))
    loaded = modules_after(f"""
        from indi_edge import cli
        assert cli.main(["restore", {str(tmp_path / "in.png")!r}, "-o", {str(tmp_path / "out.png")!r},
                         "--model", {str(tiny_onnx)!r}, "--quiet"]) == 0
    """)
    assert (tmp_path / "out.png").is_file()
    assert "torch" not in loaded
