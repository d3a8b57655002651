"""Sliders that move in Jupyter, in Colab *and* in the static HTML site.

``ipywidgets.interact`` needs a live kernel: in the built book its slider is frozen. The
book therefore renders each figure of an Explore section for a small grid of parameter
values *ahead of time* and shows them in an ``ipywidgets.Stack`` whose
``selected_index`` is linked to the slider's ``index`` with ``ipywidgets.jslink``. The
link runs in the browser, so the slider moves wherever the widget state is present: a
notebook, Colab, or the HTML page (whose widget state Jupyter Book embeds).

Usage (one parameter)::

    precomputed_slider(lambda kappa: plot_density(kappa), [1, 4, 16, 64], name="κ")

Two or three parameters give one slider each (the grid is their product, at most
``max_figures``)::

    precomputed_slider(lambda d, kappa: ..., {"d": [3, 16], "kappa": [1, 8, 32]})
"""

from __future__ import annotations

import inspect
import io
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

from . import _validate as V

__all__ = ["precomputed_slider", "figure_png", "show_source"]


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a Matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a Matplotlib Figure, got {V.describe(fig)}")
    dpi = V.real("dpi", dpi, gt=0)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _label(v, fmt: str) -> str:
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


def precomputed_slider(
    render: Callable[..., object],
    values: Sequence | Mapping[str, Sequence],
    *,
    name: str | None = None,
    initial: int | Mapping[str, int] = 0,
    dpi: int = 80,
    fmt: str = "{:g}",
    max_figures: int = 12,
    width: str = "min(100%, 640px)",
):
    """A slider (or up to three) over precomputed figures.

    Parameters
    ----------
    render : callable
        Called once per grid point — with the value as its single argument when
        ``values`` is a sequence, with keyword arguments when ``values`` is a mapping —
        and returns a Matplotlib ``Figure`` (``None`` means "the current figure"). Each
        figure is rendered to PNG and closed. On Linux the grid points are rendered in
        forked worker processes, one per core (:mod:`kexue_lib.parallel`): ``render``
        should only draw — what it changes besides its figure is not kept.
    values : sequence, or mapping of name → sequence (1 to 3 names)
        The grid. The total number of figures must not exceed ``max_figures``.
    name : str, optional
        Slider label for the single-parameter form (default ``"value"``).
    initial : int or mapping name → int
        Index of the value shown first (per parameter).
    dpi, fmt, max_figures, width
        PNG resolution, how slider values are printed, the grid-size cap, CSS width of
        the images.

    Returns
    -------
    ipywidgets.VBox
        Sliders on top, the figure below. Display it as a cell's last expression.

    Raises
    ------
    TypeError
        If ``render`` is not callable, ``values`` not a sequence or mapping of
        sequences, or another argument has the wrong type.
    ValueError
        On an empty grid, more than three parameters, a grid larger than
        ``max_figures``, or an ``initial`` index out of range.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    if not callable(render):
        raise TypeError(f"render must be callable, got {V.describe(render)}")
    expected = "a sequence of values or a mapping from names to sequences"
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"values must be {expected}, got {V.describe(values)}")
    if isinstance(values, Mapping):
        for v in values.values():
            if isinstance(v, str) or not isinstance(v, Iterable):
                raise TypeError(f"values must be {expected}, got {V.describe(values)}")
        grid = {str(k): list(v) for k, v in values.items()}
        keyword = True
    else:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {V.describe(name)}")
        grid = {name or "value": list(values)}
        keyword = False
    for arg, val in (("fmt", fmt), ("width", width)):
        if not isinstance(val, str):
            raise TypeError(f"{arg} must be a str, got {V.describe(val)}")
    max_figures = V.integer("max_figures", max_figures, minimum=1)
    dpi = V.real("dpi", dpi, gt=0)
    if not 1 <= len(grid) <= 3:
        raise ValueError(f"values must name 1 to 3 parameters, got {len(grid)}")
    for k, v in grid.items():
        if len(v) == 0:
            raise ValueError(f"values[{k!r}] must not be empty, got {v!r}")
    total = 1
    for v in grid.values():
        total *= len(v)
    if total > max_figures:
        raise ValueError(
            f"values must make at most max_figures = {max_figures} figures, "
            f"got a grid of {total}; use fewer values"
        )
    names = list(grid)
    init = initial if isinstance(initial, Mapping) else {names[0]: initial}
    for k, i in init.items():
        if k not in grid:
            raise ValueError(
                f"initial names unknown parameter {k!r}; parameters are {names}"
            )
        V.integer(f"initial[{k!r}]", i, minimum=0, maximum=len(grid[k]) - 1)

    # Render every grid point once: in forked worker processes where that is safe
    # (one per core, see kexue_lib.parallel), else one after the other — never in
    # threads, as pyplot is not thread-safe. ``render`` should therefore only draw.
    from .parallel import _fork_is_safe, parallel_map

    def png(idx: tuple) -> bytes:
        point = {k: grid[k][i] for k, i in zip(names, idx)}
        fig = render(**point) if keyword else render(point[names[0]])
        return figure_png(plt.gcf() if fig is None else fig, dpi=dpi)

    grid_points = list(itertools.product(*(range(len(grid[k])) for k in names)))
    pngs = parallel_map(png, grid_points, workers=None if _fork_is_safe() else 1)
    images: dict[tuple, W.Image] = {
        idx: W.Image(value=b, format="png", layout=W.Layout(width=width))
        for idx, b in zip(grid_points, pngs)
    }

    sliders = [
        W.SelectionSlider(
            options=[(_label(v, fmt), i) for i, v in enumerate(grid[k])],
            value=int(init.get(k, 0)),
            description=k,
            continuous_update=True,
            style={"description_width": "initial"},
            layout=W.Layout(width="min(100%, 420px)"),
        )
        for k in names
    ]
    stacks_per_level: list[list] = [[] for _ in names]

    def build(level: int, prefix: tuple):
        if level == len(names):
            return images[prefix]
        children = [
            build(level + 1, prefix + (i,)) for i in range(len(grid[names[level]]))
        ]
        stack = W.Stack(
            children=children, selected_index=int(init.get(names[level], 0))
        )
        stacks_per_level[level].append(stack)
        return stack

    top = build(0, ())
    links = [
        W.jslink((slider, "index"), (stack, "selected_index"))
        for slider, stacks in zip(sliders, stacks_per_level)
        for stack in stacks
    ]
    box = W.VBox([*sliders, top])
    box._kexue_links = links  # keep the Link widgets alive alongside the box
    return box


def show_source(*objs) -> None:
    """Display the source of library functions/classes in a notebook (the Implementation
    section).

    Chapters show the code they rely on instead of re-typing it, so the text and the
    library can't drift. Falls back to printing when IPython is not available.
    """
    if not objs:
        raise ValueError("objs must name at least one function or class, got none")
    for i, obj in enumerate(objs):
        if not (
            inspect.isfunction(obj)
            or inspect.ismethod(obj)
            or inspect.isclass(obj)
            or inspect.ismodule(obj)
        ):
            raise TypeError(
                f"objs[{i}] must be a function, method, class or module, "
                f"got {V.describe(obj)}"
            )
    text = "\n\n".join(inspect.getsource(o) for o in objs)
    try:
        from IPython.display import Code, display

        display(Code(text, language="python"))
    except ImportError:  # pragma: no cover
        print(text)
