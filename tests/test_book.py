"""Book infrastructure (kexue_lib._book): the generated claims index and the pinned web
assets.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kexue_lib import _book


def _chapter(path, title, claims):
    nb = nbformat.v4.new_notebook()
    items = "\n".join(f"{i}. **C{i}** — {c}" for i, c in enumerate(claims, 1))
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\ntext"),
        nbformat.v4.new_markdown_cell(f"## Claims\n\n{items}\n"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_claims_index_lists_every_claim_in_toc_order(tmp_path):
    _chapter(tmp_path / "book/a/one.ipynb", "Chapter One", ["x = y", "a | b"])
    _chapter(tmp_path / "book/b/two.ipynb", "Chapter Two", ["z"])
    _chapter(tmp_path / "book/b/unlisted.ipynb", "Not in toc", ["w"])
    (tmp_path / "_toc.yml").write_text(
        "root: book/intro\nparts:\n - chapters:\n   - file: book/b/two\n   - file: "
        "book/a/one\n"
    )
    md = _book.claims_markdown(tmp_path)
    assert "**3 claims**" in md
    assert md.index("Chapter Two") < md.index("Chapter One")
    assert "[Chapter One](a/one.ipynb)" in md and "| C2 | a \\| b |" in md
    assert "Not in toc" not in md
    out = _book.write_claims_index(tmp_path)
    assert out.read_text() == md
    assert _book.chapter_title(tmp_path / "book/a/one.ipynb") == "Chapter One"


def test_integrity_is_the_npm_sha512_format(tmp_path):
    p = tmp_path / "x.tgz"
    p.write_bytes(b"abc")
    assert (
        _book._integrity(p)
        == "sha512-" + base64.b64encode(hashlib.sha512(b"abc").digest()).decode()
    )
    for version, sri in _book.WEB_PACKAGES.values():
        assert (
            version.count(".") == 2
            and sri.startswith("sha512-")
            and len(base64.b64decode(sri[7:])) == 64
        )


def test_main_usage_and_check_claims(tmp_path, capsys):
    assert _book.main(["nonsense"]) == 2
    _chapter(tmp_path / "book/a/one.ipynb", "One", ["x"])
    assert (
        _book.main(["check-claims", str(tmp_path)]) == 1
    )  # listed C1 but no claim("C1") call
    assert "listed ['C1']" in capsys.readouterr().out


def test_every_library_subpackage_is_packaged():
    """Colab installs the library from git (not editable): every subpackage must be
    listed in pyproject.toml.
    """
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(
        tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
            "setuptools"
        ]["packages"]
    )
    found = {
        p.parent.relative_to(root).as_posix().replace("/", ".")
        for p in (root / "kexue_lib").rglob("__init__.py")
    }
    assert found == listed, (
        f"packages in the tree {sorted(found)} vs pyproject.toml {sorted(listed)}"
    )


def _with_row(path, title, verdict):
    nb = (
        nbformat.read(path, as_version=4)
        if path.exists()
        else nbformat.v4.new_notebook()
    )
    if not path.exists():
        nb.cells = [
            nbformat.v4.new_markdown_cell(
                f"# {title}\n\n*Original post:* "
                "[某篇文章](https://kexue.fm/archives/1234) by Su Jianlin, 2021-05-17."
            )
        ]
    nb.cells.append(
        nbformat.v4.new_code_cell(
            'reproduction(headline="the post | says", result="we see", '
            f'verdict="{verdict}", reason="small")'
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_ledger_lists_every_chapter_with_its_row(tmp_path):
    _with_row(tmp_path / "book/a/one.ipynb", "One", "partly")
    _chapter(tmp_path / "book/b/two.ipynb", "Two", ["z"])
    (tmp_path / "_toc.yml").write_text(
        "parts:\n - chapters:\n   - file: book/a/one\n   - file: book/b/two\n"
    )
    md = _book.ledger_markdown(tmp_path)
    assert "**2 chapters**: 0 reproduced, 1 partly, 0 not at this scale." in md
    assert (
        "| [One](a/one.ipynb) | the post \\| says | we see | **partly** | small |" in md
    )
    assert "| [Two](b/two.ipynb) | — | — | *no row declared* | — |" in md


def test_citing_page_has_a_biblatex_entry_per_chapter_and_post(tmp_path):
    _with_row(tmp_path / "book/a/one.ipynb", "One", "reproduced")
    (tmp_path / "_toc.yml").write_text("parts:\n - chapters:\n   - file: book/a/one\n")
    md = _book.citing_markdown(tmp_path, "https://example.org/repo")
    assert (
        "@online{kexuebook-a-one," in md
        and "url     = {https://example.org/repo/blob/main/book/a/one.ipynb}" in md
    )
    assert (
        "@online{kexuefm-1234," in md
        and "url     = {https://kexue.fm/archives/1234}," in md
    )
    assert (
        "\\url" not in md and "month   = {may}" in md and "title   = {某篇文章}" in md
    )


def test_toc_files_reads_file_entries_in_order(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "root: book/intro\nparts:\n - chapters:\n   - file: book/x\n   - file: book/y\n"
    )
    assert _book.toc_files(tmp_path) == ["book/x", "book/y"]


def test_execution_cache_is_cleared_when_the_library_changes(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "m.py").write_text("x = 1\n")
    cache = tmp_path / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    (cache / "entry").write_text("old outputs")
    assert (
        _book.sync_execution_cache(cache, lib) is True
    )  # no stamp yet: the cache may predate any library
    cache.mkdir()
    (cache / "entry").write_text("fresh outputs")
    assert (
        _book.sync_execution_cache(cache, lib) is False and (cache / "entry").exists()
    )
    (lib / "m.py").write_text("x = 2\n")  # a library change
    assert _book.sync_execution_cache(cache, lib) is True and not cache.exists()
    assert _book.library_hash(lib) != _book.library_hash(tmp_path)


def test_the_build_hook_clears_a_stale_cache_and_writes_the_pages(tmp_path):
    """The Sphinx hook that runs before any notebook is read: stale library stamp ->
    cache gone.
    """
    from types import SimpleNamespace

    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text("parts:\n - chapters:\n   - file: book/intro\n")
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/r\n")
    cache = tmp_path / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    cache.with_name(".jupyter_cache.kexue_lib.sha256").write_text("an older library\n")
    app = SimpleNamespace(
        srcdir=str(tmp_path), outdir=str(tmp_path / "_build" / "html")
    )
    _book._on_config_inited(app, SimpleNamespace(nb_execution_cache_path=str(cache)))
    assert not cache.exists()
    assert (
        cache.with_name(".jupyter_cache.kexue_lib.sha256").read_text().strip()
        == _book.library_hash()
    )
    assert {p.name for p in (tmp_path / "book").iterdir()} == {
        "claims.md",
        "ledger.md",
        "citing.md",
    }


def test_the_guide_example_is_what_the_citing_page_generates():
    """The guide shows one chapter's entries; they must be exactly what book/citing.md
    holds.
    """
    import re

    import yaml

    root = Path(__file__).resolve().parents[1]
    guide = (root / "book" / "guide.md").read_text(encoding="utf-8")
    example = re.search(r"## Citing.*?```bibtex\n(.*?)```", guide, re.S).group(1)
    repo = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]["url"]
    generated = _book.citing_markdown(root, repo)
    for entry in example.strip().split("\n\n"):
        assert entry.strip() in generated, entry


KERNEL_CONFIG = Path(_book.__file__).with_name("ipython_kernel_config.py")


def test_kernel_config_freezes_the_heap_at_exit():
    """The kernels' exec_lines register gc.freeze as an exit handler: a handler
    registered before them runs after it (exit handlers run last-in, first-out) and
    sees the frozen objects."""
    from traitlets.config import Config

    cfg = Config()
    exec(KERNEL_CONFIG.read_text(), {"get_config": lambda: cfg})
    lines = list(cfg.InteractiveShellApp.exec_lines)
    assert lines and all("gc" in line for line in lines)
    probe = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
        + "\n".join(lines)
        + "\nprint('before', gc.get_freeze_count())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:2] == ["before", "0"], out
    assert out[2] == "frozen" and int(out[3]) > 1000, out


def test_the_venv_kernels_read_the_kernel_config():
    """`make` installs the config where kernels started from .venv read it (a fresh
    clone that skipped the step would build the book with slow kernel exits)."""
    root = Path(__file__).resolve().parents[1]
    if Path(sys.prefix).resolve() != (root / ".venv").resolve():
        pytest.skip("not running in the book's .venv")
    installed = Path(sys.prefix, "etc", "ipython", "ipython_kernel_config.py")
    assert installed.is_file(), f"{installed} missing: run make"
    assert installed.read_text() == KERNEL_CONFIG.read_text()
