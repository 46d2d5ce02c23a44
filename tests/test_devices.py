"""Device facts a user's choice depends on: native bfloat16 (else bf16 is slower than fp32) and the machine line."""

from __future__ import annotations

import types

import pytest
import torch

import nucgan.devices as devices


def _cpu(monkeypatch, flags: set[str], avx512_bf16: bool = False, amx: bool = False) -> None:
    fake = types.SimpleNamespace(_is_avx512_bf16_supported=lambda: avx512_bf16, _is_amx_tile_supported=lambda: amx)
    monkeypatch.setattr(torch, "cpu", fake)
    monkeypatch.setattr(devices, "_cpu_flags", lambda: flags)


@pytest.mark.parametrize("flags, probe, native", [
    ({"avx2", "fma"}, {}, False),                    # AVX2-only x86 (the AMD EPYC this was measured on)
    ({"avx2", "avx512f"}, {}, False),                # AVX-512 without its bf16 extension
    ({"avx2"}, {"avx512_bf16": True}, True),         # torch's own probe says so
    ({"avx2"}, {"amx": True}, True),
    ({"fp", "asimd", "bf16"}, {}, True),             # an Arm core with the BF16 extension
])
def test_native_bf16_on_a_cpu_follows_its_feature_flags(monkeypatch, flags, probe, native):
    _cpu(monkeypatch, flags, **probe)
    assert devices.native_bf16("cpu") is native
    warning = devices.bf16_slow_warning("cpu", "--amp")
    assert (warning is None) is native
    if warning:
        assert warning.startswith("--amp: ") and "fp32 is the faster choice" in warning and "\n" not in warning


def test_mps_never_counts_as_native_bf16_and_cuda_needs_compute_capability_8(monkeypatch):
    assert devices.native_bf16("mps") is False
    assert devices.bf16_slow_warning("mps", "precision bf16").startswith("precision bf16: device 'mps' has no native")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))  # V100
    assert devices.native_bf16("cuda") is False
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # A100
    assert devices.native_bf16("cuda") is True


def test_the_machine_line_names_cpu_cores_threads_torch_and_bf16(monkeypatch):
    _cpu(monkeypatch, {"avx2"})
    monkeypatch.setattr(devices, "cpu_name", lambda: "Test CPU 9000")
    monkeypatch.setattr(devices, "_cpu_model_numbers", lambda: "family 25, model 1")  # one brand, several generations
    line = devices.describe_machine(threads=2)
    assert line.startswith("Test CPU 9000 (family 25, model 1), ") and " cores, 2 threads, torch " in line and line.endswith("no native bf16")
