"""What this CPU can do fast, read once: the features that decide precision and paths.

torch-free and cheap (reads /proc/cpuinfo on Linux, sysctl-free elsewhere: unknown features are
False). `native_bf16` is the one that matters most: torch bf16 matrix products ran ~80x slower
than fp32 on an AVX2-only EPYC, and ~3x faster than fp32 on CPUs with AVX512-BF16 or AMX.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import platform
from pathlib import Path

X86_FLAGS = {"amx_bf16": "amx_bf16", "avx512_bf16": "avx512_bf16", "avx512": "avx512f", "avx2": "avx2", "fma": "fma"}
ARM_FLAGS = {"neon": "asimd", "sve": "sve", "arm_bf16": "bf16"}


@dataclasses.dataclass(frozen=True)
class CpuFeatures:
    model: str
    arch: str
    amx_bf16: bool = False
    avx512_bf16: bool = False
    avx512: bool = False
    avx2: bool = False
    fma: bool = False
    neon: bool = False
    sve: bool = False
    arm_bf16: bool = False

    @property
    def native_bf16(self) -> bool:
        """bf16 arithmetic in hardware (AMX, AVX512-BF16, Arm BF16): bf16 paths are worth running."""
        return self.amx_bf16 or self.avx512_bf16 or self.arm_bf16

    @property
    def names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.type in (bool, "bool") and getattr(self, f.name)]

    def summary(self) -> str:
        """One line, e.g. 'AMD EPYC (x86_64): avx512_bf16 avx512 avx2 fma; native bf16: yes'."""
        return f"{self.model} ({self.arch}): {' '.join(self.names) or 'no SIMD features found'}; " \
               f"native bf16: {'yes' if self.native_bf16 else 'no'}"

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "native_bf16": self.native_bf16}


def parse_cpuinfo(text: str, arch: str) -> CpuFeatures:
    """CpuFeatures from the text of /proc/cpuinfo (x86 'flags' or Arm 'Features' lines)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's entry
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    model = fields.get("model name") or fields.get("Model") or fields.get("CPU part") or platform.processor() or arch
    table = ARM_FLAGS if arch in ("aarch64", "arm64") else X86_FLAGS
    return CpuFeatures(model=model, arch=arch, **{name: flag in flags for name, flag in table.items()})


DISABLE_ENV = "INDI_EDGE_DISABLE_CPU_FEATURES"


@functools.lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    """This machine's CpuFeatures (detected once per process). Features named in the environment
    variable INDI_EDGE_DISABLE_CPU_FEATURES (comma-separated, e.g. "amx_bf16,avx512_bf16") count as
    absent: to make the SDK choose as it would on a CPU without them."""
    arch = platform.machine().lower()
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text(errors="replace") if cpuinfo.is_file() else ""
    features = parse_cpuinfo(text, arch)
    disabled = {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}
    unknown = disabled - {f.name for f in dataclasses.fields(CpuFeatures)} - {"model", "arch"}
    if unknown:
        raise ValueError(f"{DISABLE_ENV} names unknown features {sorted(unknown)}; known: {features.names or 'none here'} "
                         f"and the rest of {[f.name for f in dataclasses.fields(CpuFeatures)][2:]}")
    return dataclasses.replace(features, **{name: False for name in disabled})


def bf16_skip_reason() -> str | None:
    """None where bf16 runs natively here; else the one-line reason to skip bf16 work."""
    f = cpu_features()
    if f.native_bf16:
        return None
    return f"{f.model} has no native bf16 (no AMX-BF16, AVX512-BF16 or Arm BF16): bf16 would run emulated, " \
           f"many times slower than fp32"
