"""What this CPU offers for the update's matrix products (read from /proc/cpuinfo, and
timed), and the flag that keeps denormals out of the update.

Machines of one kind differ (an AMD EPYC with AVX-512 bf16, an Intel Xeon with AMX):
the fast update path asks here instead of assuming. A listed feature is not enough: one
virtual Intel Xeon lists AVX-512 bf16 yet multiplies bfloat16 matrices at 0.58x its
float32 rate (80 against 138 GFLOP/s), so bfloat16 is also timed before it is chosen.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import torch

LOG = logging.getLogger(__name__)

BF16_FLAGS = ("amx_bf16", "avx512_bf16")   # either can make bfloat16 matmuls fast
# bfloat16 rounds every product to 8 bits of mantissa: worth it only for a clear gain.
BF16_GAIN_NEEDED = 1.3
PRODUCT = (256, 400, 300)   # the update's typical product: batch x layer in -> layer out
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


def matmul_gflops(dtype: torch.dtype, seconds: float = 0.5) -> float:
    """GFLOP/s of the PRODUCT in ``dtype`` at torch's current thread count."""
    rows, inner, cols = PRODUCT
    a = torch.randn(rows, inner).to(dtype)
    b = torch.randn(inner, cols).to(dtype)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(5):
            a @ b
        count += 5
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 2.0 * rows * inner * cols * count / elapsed / 1e9


@functools.lru_cache(maxsize=1)
def bfloat16_speedup(rounds: int = 5, seconds: float = 0.01) -> float:
    """bfloat16's matmul rate over float32's for the PRODUCT on this CPU: the best of
    ``rounds`` short interleaved timings of each (about 0.1 s in all, once per process),
    so that another process stealing the core slows both alike."""
    best = {torch.float32: 0.0, torch.bfloat16: 0.0}
    for _ in range(rounds):
        for dtype in best:
            best[dtype] = max(best[dtype], matmul_gflops(dtype, seconds))
    return best[torch.bfloat16] / best[torch.float32]


def lists_bfloat16_units(flags: list[str] | tuple[str, ...]) -> bool:
    """The CPU flags name bfloat16 matrix units (AMX or AVX-512 bf16)."""
    return any(flag in flags for flag in BF16_FLAGS)


def choose_bfloat16(flags: list[str] | tuple[str, ...], speedup: float | None) -> bool:
    """The rule of td3.precision auto: bfloat16 units listed and, timed, bfloat16 products
    at least BF16_GAIN_NEEDED times as fast as float32's (``speedup`` None: not timed)."""
    return lists_bfloat16_units(flags) and speedup is not None and speedup >= BF16_GAIN_NEEDED


@functools.lru_cache(maxsize=1)
def has_fast_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 matrices clearly faster than float32 ones:
    it lists bfloat16 units (AMX or AVX-512 bf16) and a timing here confirms it."""
    flags = cpu_info()["flags"]
    if not lists_bfloat16_units(flags):
        return False   # nothing to time
    speedup = bfloat16_speedup()
    chosen = choose_bfloat16(flags, speedup)
    LOG.info("td3.precision auto: bfloat16 matmuls timed at %.2fx float32's on %s; "
             "update products in %s", speedup, cpu_label(),
             "bfloat16" if chosen else "float32")
    return chosen


@contextlib.contextmanager
def flushed_denormals() -> Iterator[None]:
    """Denormal floats read and written as zero (x86 DAZ/FTZ) on this thread inside.

    Adam's first moment of a weight whose gradient has gone to zero (a dead ReLU unit)
    decays by beta1 per step into the denormal range, where x86 arithmetic is many times
    slower: in a 15k-step massage run 12 % of the critic's moments were denormal and the
    fused Adam step took 2.25 ms instead of 0.24 ms, the whole update 14.0 ms instead of
    11.6 ms. Values below 1.2e-38 change no learning. torch sets the flag per thread (not
    in its OpenMP workers, so with td3.torch_threads above 1 only this thread's share is
    flushed); off again on exit, the default every other part of the process runs with.
    """
    if not torch.set_flush_denormal(True):   # a CPU without the flags: nothing to do
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
