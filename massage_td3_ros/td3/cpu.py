"""What this CPU offers for the update's matrix products, read from /proc/cpuinfo.

Machines of one kind differ (an AMD EPYC with AVX-512 bf16, an Intel Xeon with AMX):
the fast update path asks here instead of assuming.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")   # either makes bfloat16 matmuls fast
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, object]:
    """``{"model": str, "family": str, "model_number": str, "cores": int, "flags": [the
    REPORTED_FLAGS present]}`` (Linux; elsewhere the platform's processor name, empty
    family and model number, and no flags). The model name alone can hide the
    generation (two machines both named "AMD EPYC" ran the same jobs 1.5-1.9x apart, and
    a TD3 seed took another course on each), so the family and model number go with it."""
    fields = {"model name": "", "cpu family": "", "model": "", "flags": ""}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in fields and not fields[key]:
                fields[key] = value.strip()
            if not line.strip() and all(fields.values()):
                break   # the first processor's block is enough
    except OSError:
        pass
    flags = set(fields["flags"].split())
    return {"model": fields["model name"] or platform.processor() or "unknown",
            "family": fields["cpu family"], "model_number": fields["model"],
            "cores": os.cpu_count() or 0,
            "flags": [flag for flag in REPORTED_FLAGS if flag in flags]}


def cpu_label() -> str:
    """The CPU as benchmarks print it: ``AMD EPYC (family 26, model 2)``."""
    info = cpu_info()
    if not info["family"]:
        return str(info["model"])
    return f"{info['model']} (family {info['family']}, model {info['model_number']})"


def has_fast_bfloat16() -> bool:
    """True when the CPU multiplies bfloat16 matrices in hardware (AMX or AVX-512 bf16)."""
    return any(flag in cpu_info()["flags"] for flag in BF16_FLAGS)
