"""kexue_lib.widgets: precomputed sliders (their structure is what makes them move
without a kernel).
"""

from __future__ import annotations

import ipywidgets as W
import pytest

from kexue_lib.plotting import subplots
from kexue_lib.widgets import figure_png, precomputed_slider, show_source


def _render(a, b=1.0):
    fig, ax = subplots()
    ax.plot([0, 1], [0, a * b])
    ax.set_title(f"{a}, {b}")
    return fig


def _images(w):
    if isinstance(w, W.Image):
        return [w]
    return [img for c in w.children for img in _images(c)]


def test_one_slider_is_jslinked_to_a_stack_of_distinct_images():
    box = precomputed_slider(_render, [1, 2, 3], name="a")
    slider, stack = box.children
    assert isinstance(slider, W.SelectionSlider) and isinstance(stack, W.Stack)
    assert [o[0] for o in slider.options] == ["1", "2", "3"]
    imgs = _images(stack)
    assert len(imgs) == 3 and len({bytes(i.value) for i in imgs}) == 3
    assert all(bytes(i.value).startswith(b"\x89PNG") for i in imgs)
    (link,) = box._kexue_links
    assert link.source == (slider, "index") and link.target == (stack, "selected_index")


def test_two_sliders_nest_stacks_and_link_each_level():
    box = precomputed_slider(
        _render, {"a": [1, 2], "b": [1.0, 2.0, 3.0]}, initial={"b": 2}
    )
    s_a, s_b, top = box.children
    assert len(top.children) == 2 and all(len(c.children) == 3 for c in top.children)
    assert (
        len(box._kexue_links) == 1 + 2
    )  # slider a → outer stack; slider b → both inner stacks
    assert all(c.selected_index == 2 for c in top.children) and s_b.index == 2
    assert len({bytes(i.value) for i in _images(top)}) == 6


def test_bad_grids_raise_value_errors():
    with pytest.raises(ValueError, match="max_figures"):
        precomputed_slider(_render, list(range(13)))
    with pytest.raises(ValueError, match="empty"):
        precomputed_slider(_render, [])
    with pytest.raises(ValueError, match="1 to 3"):
        precomputed_slider(_render, {"a": [1], "b": [1], "c": [1], "d": [1]})
    with pytest.raises(ValueError, match="initial"):
        precomputed_slider(_render, [1, 2], initial=5)
    with pytest.raises(TypeError, match="render"):
        precomputed_slider(None, [1])


def test_figure_png_and_show_source(capsys):
    fig, _ = subplots()
    assert figure_png(fig, dpi=30).startswith(b"\x89PNG")
    show_source(figure_png)
    with pytest.raises(ValueError):
        show_source()


def test_figures_rendered_in_worker_processes_equal_serial_ones(monkeypatch):
    import os

    from kexue_lib import parallel

    pids = []

    def render(a):
        pids.append(os.getpid())
        return _render(a)

    pngs = lambda: [
        bytes(i.value)
        for i in _images(precomputed_slider(render, [1, 2, 3]).children[1])
    ]
    forked = pngs()  # on Linux: this process and a forked child share the grid
    pids.clear()
    monkeypatch.setattr(parallel, "_fork_is_safe", lambda: False)
    serial = pngs()
    assert pids == [os.getpid()] * 3  # no fork: drawn here, one after the other
    assert forked == serial
