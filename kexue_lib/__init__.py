"""kexue_lib — the thin library behind *the kexue book*.

Each chapter of the book (one post of Scientific Spaces, kexue.fm) imports the pieces it
needs from the topic modules (``kexue_lib.linalg``, ``kexue_lib.vmf``, ...). This top
level only holds what every chapter uses: :func:`seed_all` for determinism and
:func:`device` to pick an accelerator when one exists.
"""

from __future__ import annotations

import os
import random

import numpy as np

__version__ = "0.1.0"
__all__ = ["__version__", "seed_all", "device"]


def seed_all(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA) with one integer.

    Every chapter calls ``seed_all(0)`` in its setup cell, so running it twice gives the
    same numbers. With ``deterministic=True`` PyTorch is asked for deterministic kernels
    (``warn_only`` so that an op without a deterministic variant warns instead of
    failing) and intra-op threads are capped at 2, the size of the CI machine, so that
    reductions are ordered the same way on every run.

    Returns nothing, so that a setup cell ending in ``seed_all(0)`` shows no output.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if not isinstance(deterministic, bool):
        raise TypeError(
            f"deterministic must be a bool, got {type(deterministic).__name__}"
        )
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return None
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        _deterministic_algorithms(torch)
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def _deterministic_algorithms(torch) -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` for eager PyTorch.

    The public function also sets the flag of the ``torch.compile`` backend, and to do
    so imports it (``torch._inductor``): about 1.4 s in every chapter, which never
    compiles. The eager flag is the same call; the compiler's flag is set too whenever
    the compiler is already loaded (otherwise set it with the public function before
    compiling).
    """
    import sys

    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


def device(prefer: str | None = None):
    """The ``torch.device`` chapters train on: CUDA when present, else CPU.

    ``prefer="cpu"`` forces the CPU (useful to compare numbers with CI). Setting the
    environment variable ``KEXUE_DEVICE`` (``cpu`` or ``cuda``) does the same for a
    whole run.
    """
    import torch

    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(
            f"prefer must be 'cpu', 'cuda' or None, got {type(prefer).__name__}"
        )
    choice = prefer or os.environ.get("KEXUE_DEVICE")
    if choice is not None:
        if choice not in ("cpu", "cuda"):
            raise ValueError(f"prefer must be 'cpu', 'cuda' or None, got {choice!r}")
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("prefer='cuda' but no CUDA device is available")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
