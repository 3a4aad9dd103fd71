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
