"""cpu_info() names the CPU closely enough to tell machines apart: the model name, and
on Linux the family and model number that the name alone can hide."""

import os
import sys
from pathlib import Path

import pytest

from massage_td3_ros.td3.cpu import REPORTED_FLAGS, cpu_info


def first_block(field: str) -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return ""


def test_keys_and_types():
    info = cpu_info()
    assert set(info) == {"model", "family", "model_number", "cores", "flags"}
    assert isinstance(info["model"], str) and info["model"]
    assert info["cores"] == (os.cpu_count() or 0)
    assert set(info["flags"]) <= set(REPORTED_FLAGS)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not first_block("model name"),
                    reason="reads the x86 fields of /proc/cpuinfo")
def test_matches_proc_cpuinfo():
    info = cpu_info()
    assert info["model"] == first_block("model name")
    assert info["family"] == first_block("cpu family")
    assert info["model_number"] == first_block("model")
    flags = set(first_block("flags").split())
    assert info["flags"] == [flag for flag in REPORTED_FLAGS if flag in flags]


def test_auto_precision_takes_bfloat16_only_where_it_is_listed_and_timed_faster():
    """A listed feature is not enough: a CPU that lists AVX-512 bf16 but multiplies
    bfloat16 at 0.58x float32's rate (one virtual Xeon does) keeps float32."""
    from massage_td3_ros.td3.cpu import BF16_GAIN_NEEDED, choose_bfloat16

    assert not choose_bfloat16(["avx2", "avx512f"], 4.0)          # no bfloat16 units
    assert not choose_bfloat16(["avx512_bf16"], 0.58)              # listed, timed slower
    assert not choose_bfloat16(["amx_bf16"], None)                 # not timed
    assert not choose_bfloat16(["avx512_bf16"], BF16_GAIN_NEEDED - 0.01)
    assert choose_bfloat16(["avx512_bf16"], 2.2)                   # the Zen 4 EPYC's gain
    assert choose_bfloat16(["amx_tile", "amx_bf16"], BF16_GAIN_NEEDED)


def test_this_cpus_choice_follows_the_rule_on_its_own_timing():
    from massage_td3_ros.td3.cpu import bfloat16_speedup, choose_bfloat16, has_fast_bfloat16

    speedup = bfloat16_speedup()
    assert 0.0 < speedup < 100.0
    assert has_fast_bfloat16() == choose_bfloat16(cpu_info()["flags"], speedup)
