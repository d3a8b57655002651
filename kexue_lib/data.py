"""Small data sets that need no download.

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled to [0, 1].
* :func:`train_test` — a seeded split.
* :func:`ring_of_gaussians`, :func:`two_moons` — 2-D toy sets for GANs, flows and diffusion.

Synthetic sequence tasks for the attention and position chapters live further down this module.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["digits", "train_test", "ring_of_gaussians", "two_moons"]


def digits(*, binarize: bool = False, threshold: float = 0.5, dtype: torch.dtype = torch.float32):
    """scikit-learn's 8×8 digits as tensors ``(x, y)``: ``x`` of shape (1797, 64) in [0, 1], ``y`` int64.

    The data ship inside scikit-learn (``load_digits``), so nothing is downloaded. Pixel intensities 0…16
    are divided by 16. With ``binarize=True`` pixels become ``(x > threshold)`` as 0/1 floats (the
    binarised digits of the VAE chapters).
    """
    from sklearn.datasets import load_digits

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    d = load_digits()
    x = torch.as_tensor(d.data / 16.0, dtype=dtype)
    if binarize:
        x = (x > threshold).to(dtype)
    y = torch.as_tensor(d.target, dtype=torch.long)
    return x, y


def train_test(x, y, *, test_fraction: float = 0.25, seed: int = 0):
    """Seeded random split ``(x_train, y_train, x_test, y_test)`` along the first dimension."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    n_test = max(1, int(round(test_fraction * len(x))))
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]


def ring_of_gaussians(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.05, generator=None):
    """``n`` points from ``modes`` isotropic Gaussians equally spaced on a circle; returns ``(x, mode)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if modes < 1:
        raise ValueError(f"modes must be >= 1, got {modes}")
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    k = torch.randint(0, modes, (n,), generator=generator)
    ang = 2 * math.pi * k.to(torch.float32) / modes
    centres = radius * torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator), k


def two_moons(n: int, *, noise: float = 0.05, seed: int = 0):
    """scikit-learn's two interleaving half circles as a float32 tensor of shape (n, 2), plus labels."""
    from sklearn.datasets import make_moons

    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
