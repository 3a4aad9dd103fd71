"""What this CPU offers for the update's matrix products, read from /proc/cpuinfo.

Machines of one kind differ (an AMD EPYC with AVX-512 bf16, an Intel Xeon with AMX):
the fast update path asks here instead of assuming.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")   # either makes bfloat16 matmuls fast
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict[str, object]:
    """``{"model": str, "flags": [the REPORTED_FLAGS present]}`` (Linux; elsewhere
    the platform's processor name and no flags)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name":
                model = value.strip()
            elif key == "flags":
                flags = set(value.split())
            if model != "unknown" and flags:
                break
    except OSError:
        pass
    return {"model": model, "flags": [flag for flag in REPORTED_FLAGS if flag in flags]}


def has_fast_bfloat16() -> bool:
    """True when the CPU multiplies bfloat16 matrices in hardware (AMX or AVX-512 bf16)."""
    return any(flag in cpu_info()["flags"] for flag in BF16_FLAGS)
