"""CPU feature detection: parsed from /proc/cpuinfo text of each machine type the project meets."""
import pytest

from indi_edge.cpu_features import cpu_features, parse_cpuinfo

INTEL_AMX = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile\n"
AMD_ZEN3 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx avx2 fma f16c\n"
ARM_ORIN = "processor\t: 0\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp\nCPU part\t: 0xd42\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_intel_amx_has_native_bf16():
    f = parse_cpuinfo(INTEL_AMX, "x86_64")
    assert f.amx_bf16 and f.avx512_bf16 and f.avx512 and f.avx2 and f.native_bf16
    assert f.model == "Intel(R) Xeon(R) Platinum 8481C"


def test_amd_zen3_has_avx2_and_no_bf16():
    f = parse_cpuinfo(AMD_ZEN3, "x86_64")
    assert f.avx2 and f.fma and not f.avx512 and not f.native_bf16
    assert "native bf16: no" in f.summary()


def test_arm_flags():
    orin = parse_cpuinfo(ARM_ORIN, "aarch64")
    assert orin.neon and not orin.sve and not orin.native_bf16 and not orin.avx2
    assert parse_cpuinfo(ARM_BF16, "aarch64").native_bf16


def test_this_machine_is_detected():
    f = cpu_features()
    assert f.model and f.arch
    assert f.to_dict()["native_bf16"] == f.native_bf16


def test_features_can_be_switched_off_from_the_environment(monkeypatch):
    from indi_edge import cpu_features as module

    monkeypatch.setenv(module.DISABLE_ENV, "amx_bf16, avx512_bf16,arm_bf16")
    module.cpu_features.cache_clear()
    try:
        f = module.cpu_features()
        assert not f.native_bf16 and "no native bf16" in module.bf16_skip_reason()
        monkeypatch.setenv(module.DISABLE_ENV, "avx1024")
        module.cpu_features.cache_clear()
        with pytest.raises(ValueError, match="unknown features"):
            module.cpu_features()
    finally:
        monkeypatch.delenv(module.DISABLE_ENV)
        module.cpu_features.cache_clear()
