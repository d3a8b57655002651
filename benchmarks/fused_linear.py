"""The fused C kernel of ``fused_linear.c`` (linear attention, elu + 1 features), built
with the system C compiler and called through ``ctypes``.

It computes the same function as ``kexue_lib.attention.linear_attention(q, k, v,
feature="elu1", causal=...)``; ``benchmarks/attention.py`` times it as ``linear-f`` to
show how close to the roofline linear attention gets once its element-wise passes are
fused with its products. It is a benchmark reference, not part of the library: the
library stays pure PyTorch (no compiler, any device).

    kernel = build()               # compiles into a temporary directory (about 1 s)
    out = kernel(q, k, v, causal)  # q, k (..., n, d), v (..., n, dv), float32, CPU
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

SOURCE = Path(__file__).resolve().with_name("fused_linear.c")
FLAGS = ["-O3", "-mavx2", "-mfma", "-fopenmp", "-shared", "-fPIC"]


class FusedLinear:
    """A loaded build of the kernel; call it like ``linear_attention``."""

    def __init__(self, lib: ctypes.CDLL, threads: int):
        self._fn = lib.linear_attention_elu1
        self._fn.restype = ctypes.c_int
        ptr, long_ = ctypes.c_void_p, ctypes.c_long
        self._fn.argtypes = [ptr] * 4 + [long_] * 4 + [ctypes.c_int] * 2
        self.threads = threads

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
    ) -> torch.Tensor:
        for name, t in (("q", q), ("k", k), ("v", v)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(
                    f"{name} must be a torch.Tensor, got {type(t).__name__}"
                )
            if t.dtype != torch.float32 or t.device.type != "cpu" or t.dim() < 2:
                raise ValueError(
                    f"{name} must be a float32 CPU tensor (..., n, features), got "
                    f"{t.dtype} on {t.device} with shape {tuple(t.shape)}"
                )
        *batch, n, d = q.shape
        dv = v.shape[-1]
        if k.shape != q.shape or v.shape[:-1] != q.shape[:-1]:
            raise ValueError(
                f"q, k must share shape (..., n, d) and v (..., n, dv); got "
                f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
            )
        if n % 16 or d % 4 or not 4 <= d <= 128 or dv % 16:
            raise ValueError(
                "the fused kernel needs n % 16 == 0, d % 4 == 0 with 4 <= d <= 128 and "
                f"dv % 16 == 0; got n = {n}, d = {d}, dv = {dv}"
            )
        q, k, v = (t.contiguous() for t in (q, k, v))
        out = torch.empty(*batch, n, dv)
        heads = out.numel() // (n * dv)
        rc = self._fn(
            q.data_ptr(),
            k.data_ptr(),
            v.data_ptr(),
            out.data_ptr(),
            heads,
            n,
            d,
            dv,
            int(bool(causal)),
            self.threads,
        )
        if rc != 0:
            raise RuntimeError(f"fused_linear.c returned error code {rc}")
        return out


def build(threads: int | None = None, compiler: str | None = None) -> FusedLinear:
    """Compile ``fused_linear.c`` and load it; raises ``RuntimeError`` (with the
    compiler's message) when there is no C compiler or the CPU lacks AVX2/FMA."""
    cc = compiler or os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler found (set CC or install gcc)")
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if flags and not ({"avx2", "fma"} <= set(flags.split())):
        raise RuntimeError("the fused kernel needs a CPU with AVX2 and FMA")
    out = Path(tempfile.mkdtemp(prefix="fused_linear_")) / "fused_linear.so"
    res = subprocess.run(
        [cc, *FLAGS, "-o", str(out), str(SOURCE)], capture_output=True, text=True
    )
    if res.returncode != 0:
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{res.stderr}")
    return FusedLinear(ctypes.CDLL(str(out)), threads or torch.get_num_threads())
