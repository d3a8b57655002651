"""One figure style for the whole book.

Chapters call :func:`subplots` instead of ``plt.subplots`` so every figure has the same
size, fonts, colours and grid; :data:`COLORS` names the palette (colour-blind safe,
Okabe–Ito).
"""

from __future__ import annotations

import matplotlib

from . import _validate as V

__all__ = ["COLORS", "apply_style", "subplots", "finish"]

#: Okabe–Ito palette, safe for colour-blind readers; used as the default colour cycle.
COLORS = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.autolayout": False,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def apply_style() -> None:
    """Set the book's Matplotlib rcParams (idempotent)."""
    from cycler import cycler

    matplotlib.rcParams.update(_STYLE)
    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=COLORS)


def subplots(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float | None = None,
    height: float | None = None,
    **kw,
):
    """``plt.subplots`` in the book's style; default size 3.2 in wide per column, 3.0 in
    high per row.
    """
    import matplotlib.pyplot as plt

    nrows = V.integer("nrows", nrows, minimum=1)
    ncols = V.integer("ncols", ncols, minimum=1)
    for name, size in (("width", width), ("height", height)):
        if size is not None:
            V.real(name, size, gt=0)
    apply_style()
    w = width if width is not None else min(3.2 * ncols, 9.6) if ncols > 1 else 5.6
    h = height if height is not None else 3.0 * nrows + (0.4 if ncols == 1 else 0.0)
    return plt.subplots(nrows, ncols, figsize=(w, h), **kw)


def finish(
    ax,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool = False,
):
    """Label an axis in one call; every figure of the book has axis labels."""
    if not hasattr(ax, "set_title"):
        raise TypeError(f"ax must be a Matplotlib Axes, got {V.describe(ax)}")
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a str or None, got {V.describe(text)}")
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    return ax


apply_style()
