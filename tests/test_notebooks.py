"""The chapters as files: committed without outputs, Claims list == claim(...) calls,
Colab URL, template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from kexue_lib._book import toc_files
from kexue_lib.checks import (
    VERDICTS,
    checked_claims,
    claim_blocks,
    listed_claims,
    reproduction_rows,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TOC_FILES = toc_files(ROOT)
CHAPTERS = sorted(
    p for p in (ROOT / "book").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
IDS = [p.relative_to(ROOT / "book").as_posix() for p in CHAPTERS]


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell) -> str:
    return (
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    )


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


def test_every_toc_entry_exists_and_every_chapter_is_in_the_toc():
    for f in TOC_FILES:
        generated = {"book/claims", "book/ledger", "book/citing"}
        assert (
            (ROOT / f"{f}.md").exists()
            or (ROOT / f"{f}.ipynb").exists()
            or f in generated
        ), f
    listed = {f"{f}.ipynb" for f in TOC_FILES}
    for p in CHAPTERS:
        assert p.relative_to(ROOT).as_posix() in listed, f"{p} is not in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_committed_without_outputs_and_small(path):
    nb = _nb(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, (
                f"cell {i} has an execution count"
            )
    assert path.stat().st_size < 100_000, (
        f"{path.name} is {path.stat().st_size} bytes (budget 100 KB)"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_claims_listed_equal_claims_checked(path):
    listed = listed_claims(path)
    checked = checked_claims(path)
    assert listed, "no '## Claims' list found"
    assert set(listed) == set(checked), (
        f"listed {sorted(listed)} but checked {sorted(set(checked))}"
    )
    assert list(listed) == [f"C{i}" for i in range(1, len(listed) + 1)], (
        f"claims must be C1..Cn in order: {list(listed)}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_colab_install_url_is_the_repository_url(path):
    code = [_src(c) for c in _nb(path)["cells"] if c["cell_type"] == "code"]
    setup = code[0]
    m = re.search(r'%pip install -q "kexue-lib @ git\+(\S+?)"', setup)
    assert m, "the first code cell must install kexue-lib on Colab"
    assert m.group(1) == CONFIG["repository"]["url"]
    assert '"google.colab" in sys.modules' in setup
    assert "seed_all(0)" in setup


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_template_sections_in_order(path):
    cells = _nb(path)["cells"]
    first = _src(cells[0])
    assert first.startswith("# "), "a chapter starts with '# Title'"
    assert re.search(r"https://kexue\.fm/archives/\d+", first), (
        "the first cell links the original post"
    )
    md = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    heads = [h.strip() for h in re.findall(r"^## (.+)$", md, flags=re.M)]
    want = [
        "Claims",
        "Derivation",
        "Implementation",
        "Experiment",
        "Explore",
        "Takeaways",
        "Exercises",
    ]
    found = [h for h in heads if h in want]
    assert found == want, f"sections {found}, expected {want} in this order"
    assert any(
        "precomputed_slider(" in _src(c) for c in cells if c["cell_type"] == "code"
    ), "no Explore slider"


def test_each_part_index_links_its_chapters():
    """A part's landing page (book/<part>/index.md) links every chapter of that part
    that is in the book.
    """
    for index in sorted((ROOT / "book").glob("*/index.md")):
        text = index.read_text(encoding="utf-8")
        part = index.parent.name
        for f in TOC_FILES:
            if f.startswith(f"book/{part}/") and not f.endswith("/index"):
                slug = f.rsplit("/", 1)[1]
                assert f"]({slug}.ipynb)" in text, (
                    f"{index.relative_to(ROOT)} does not link {slug}.ipynb"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_figure_is_displayed_twice(path):
    """A cell ending in a bare Figure name shows it twice (inline backend + repr): end
    it with plt.show().
    """
    for i, cell in enumerate(_nb(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        lines = [
            ln
            for ln in _src(cell).splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
        if lines:
            assert not re.fullmatch(r"fig\w*", lines[-1].strip()), (
                f"cell {i} ends in '{lines[-1].strip()}'"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_relative_links_resolve(path):
    """Links to other chapters or pages must exist (a planned chapter is linked through
    its part's index page).
    """
    for i, cell in enumerate(_nb(path)["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for target in re.findall(
            r"\]\(([^)#\s]+\.(?:ipynb|md))(?:#[^)]*)?\)", _src(cell)
        ):
            if "://" in target:
                continue
            assert (path.parent / target).resolve().exists(), (
                f"cell {i} links {target}, which does not exist"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_claim_block_asserts_something(path):
    """A ``with claim(...)`` body must contain an assert statement or an assert_* call
    (claim() enforces it at run time too; this scan catches it without running the
    chapter)."""
    empty = []
    for i, cell in enumerate(_nb(path)["cells"]):
        if cell["cell_type"] == "code":
            empty += [
                f"{cid} (cell {i})" for cid, _, ok in claim_blocks(_src(cell)) if not ok
            ]
    assert not empty, f"claim blocks that check nothing: {empty}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_declares_one_reproduction_row(path):
    rows = reproduction_rows(path)
    assert len(rows) == 1, (
        f"a chapter declares exactly one reproduction(...) row, found {len(rows)}"
    )
    row = rows[0]
    for key in ("headline", "result", "verdict", "reason"):
        assert isinstance(row.get(key), str) and row[key].strip(), (
            f"reproduction {key}= must be a literal string"
        )
    assert row["verdict"] in VERDICTS, row["verdict"]


READER_FILES = [*CHAPTERS, *sorted((ROOT / "book").glob("**/*.md")), ROOT / "README.md"]


@pytest.mark.parametrize(
    "path", READER_FILES, ids=[p.relative_to(ROOT).as_posix() for p in READER_FILES]
)
def test_reader_facing_text_never_mentions_the_planning(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":  # the prose: a variable may well be called `probe`
        text = "\n".join(
            _src(c) for c in _nb(path)["cells"] if c["cell_type"] == "markdown"
        )
    hits = re.findall(
        r".{0,40}(?:\bcatalogue\b|\bcatalog\b|(?<!linear )\bprobes?\b).{0,40}",
        text,
        flags=re.I,
    )
    assert not hits, f"mentions the planning catalogue / probe: {hits[:3]}"


def test_the_intro_map_marks_exactly_the_parts_still_being_written():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    for index in sorted((ROOT / "book").glob("*/index.md")):
        part = index.parent.name
        row = re.search(rf"^\|[^\n]*\]\({part}/index\.md\)[^\n]*$", intro, flags=re.M)
        assert row, f"the intro's map has no row for {part}"
        planned = "| planned |" in index.read_text(encoding="utf-8")
        marked = "being written" in row.group(0)
        assert planned == marked, (
            f"{part}: planned chapters {planned}, marked being written {marked}"
        )
