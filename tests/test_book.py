"""Book infrastructure (kexue_lib._book): the generated claims index and the pinned web assets."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import nbformat
import pytest

from kexue_lib import _book


def _chapter(path, title, claims):
    nb = nbformat.v4.new_notebook()
    items = "\n".join(f"{i}. **C{i}** — {c}" for i, c in enumerate(claims, 1))
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\ntext"), nbformat.v4.new_markdown_cell(f"## Claims\n\n{items}\n")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_claims_index_lists_every_claim_in_toc_order(tmp_path):
    _chapter(tmp_path / "book/a/one.ipynb", "Chapter One", ["x = y", "a | b"])
    _chapter(tmp_path / "book/b/two.ipynb", "Chapter Two", ["z"])
    _chapter(tmp_path / "book/b/unlisted.ipynb", "Not in toc", ["w"])
    (tmp_path / "_toc.yml").write_text("root: book/intro\nparts:\n - chapters:\n   - file: book/b/two\n   - file: book/a/one\n")
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
    assert _book._integrity(p) == "sha512-" + base64.b64encode(hashlib.sha512(b"abc").digest()).decode()
    for name, (version, sri) in _book.WEB_PACKAGES.items():
        assert version.count(".") == 2 and sri.startswith("sha512-") and len(base64.b64decode(sri[7:])) == 64


def test_main_usage_and_check_claims(tmp_path, capsys):
    assert _book.main(["nonsense"]) == 2
    _chapter(tmp_path / "book/a/one.ipynb", "One", ["x"])
    assert _book.main(["check-claims", str(tmp_path)]) == 1  # listed C1 but no claim("C1") call
    assert "listed ['C1']" in capsys.readouterr().out


def test_every_library_subpackage_is_packaged():
    """Colab installs the library from git (not editable): every subpackage must be listed in pyproject.toml."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {p.parent.relative_to(root).as_posix().replace("/", ".") for p in (root / "kexue_lib").rglob("__init__.py")}
    assert found == listed, f"packages in the tree {sorted(found)} vs pyproject.toml {sorted(listed)}"
