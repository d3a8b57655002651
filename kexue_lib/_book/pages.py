"""The generated pages: the claims index, the reproduction ledger and the citing page,
and the one parser of ``_toc.yml``; see :mod:`kexue_lib._book`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..checks import VERDICTS, listed_claims, reproduction_rows

# ------------------------------------------------------------------------------------
# The claims index.


def chapter_title(nb_path: Path) -> str:
    for cell in json.loads(Path(nb_path).read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = (
                "".join(cell["source"])
                if isinstance(cell["source"], list)
                else cell["source"]
            )
            for line in src.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(nb_path).stem


def toc_files(root: Path) -> list[str]:
    """The ``file:`` entries of ``_toc.yml`` (paths without suffix), in order — the one
    parser of the toc.
    """
    return re.findall(
        r"^\s*-?\s*file:\s*(\S+)",
        (Path(root) / "_toc.yml").read_text(encoding="utf-8"),
        re.M,
    )


def _toc_chapters(root: Path) -> list[Path]:
    """Chapter notebooks in ``_toc.yml`` order."""
    root = Path(root)
    return [
        root / f"{f}.ipynb" for f in toc_files(root) if (root / f"{f}.ipynb").exists()
    ]


def claims_markdown(root: Path) -> str:
    """Markdown of ``book/claims.md``: every chapter's claims, with where each is
    checked.
    """
    lines = [
        "# Index of verified claims",
        "",
        "Every statement below is checked by an assertion in its chapter; CI re-runs "
        "every chapter, so each",
        "line of this table was verified by the build that produced this page. This "
        "page is generated from",
        "the chapters' *Claims* lists at build time (`kexue_lib._book`).",
        "",
    ]
    total = 0
    for nb in _toc_chapters(root):
        listed = listed_claims(nb)
        if not listed:
            continue
        rel = nb.relative_to(root / "book").as_posix()
        lines += [
            f"## [{chapter_title(nb)}]({rel})",
            "",
            "| claim | statement |",
            "|---|---|",
        ]
        for cid, text in listed.items():
            cell = text.replace("|", "\\|")
            lines.append(f"| {cid} | {cell} |")
        lines.append("")
        total += len(listed)
    lines.insert(6, f"**{total} claims** in this build.\n")
    return "\n".join(lines) + "\n"


def write_claims_index(root: Path) -> Path:
    target = Path(root) / "book" / "claims.md"
    text = claims_markdown(Path(root))
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def ledger_markdown(root: Path) -> str:
    """Markdown of ``book/ledger.md``: each chapter's ``reproduction(...)`` row, in toc
    order.
    """
    root = Path(root)
    rows, counts = [], {v: 0 for v in VERDICTS}
    for nb in _toc_chapters(root):
        rel = nb.relative_to(root / "book").as_posix()
        found = reproduction_rows(nb)
        if not found:
            rows.append(
                f"| [{_cell(chapter_title(nb))}]({rel}) | — | — | *no row declared* | "
                "— |"
            )
            continue
        r = found[0]
        counts[r.get("verdict")] = counts.get(r.get("verdict"), 0) + 1
        rows.append(
            f"| [{_cell(chapter_title(nb))}]({rel}) | "
            f"{_cell(r.get('headline') or '?')} | "
            f"{_cell(r.get('result') or '?')} | **{_cell(r.get('verdict') or '?')}** "
            f"| {_cell(r.get('reason') or '?')} |"
        )
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    lines = [
        "# Reproduction ledger",
        "",
        "Each chapter ends its experiment by stating what the post's headline result "
        "is, what the chapter's",
        "small CPU run shows, and whether that run **reproduces** the headline, "
        "reproduces it **partly**, or",
        "cannot show it **at this scale** — with the reason. This page collects "
        "those rows from the chapters",
        "at build time (`kexue_lib._book`); the numbers behind each row are asserted "
        "in the chapter itself.",
        "",
        f"**{len(rows)} chapters**: {summary}.",
        "",
        "| chapter | the post's headline | what the chapter's run shows | verdict | "
        "why |",
        "|---|---|---|---|---|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


_POST = re.compile(
    r"\*Original post:?\*:?\s*\[([^\]]+)\]\((https://kexue\.fm/archives/(\d+))\)[^,]*,\s*(\d{4})-(\d{2})-(\d{2})"
)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def post_of(nb_path: Path) -> dict | None:
    """The original post a chapter names in its first cell: title, url, archive id,
    year, month, day.
    """
    cells = json.loads(Path(nb_path).read_text(encoding="utf-8")).get("cells", [])
    if not cells:
        return None
    src = (
        "".join(cells[0]["source"])
        if isinstance(cells[0]["source"], list)
        else cells[0]["source"]
    )
    m = _POST.search(src)
    if not m:
        return None
    title, url, aid, y, mo, d = m.groups()
    return {
        "title": title,
        "url": url,
        "id": aid,
        "year": y,
        "month": int(mo),
        "day": int(d),
    }


def citing_markdown(root: Path, repository: str) -> str:
    """Markdown of ``book/citing.md``: a biblatex entry for every chapter and for its
    original post.
    """
    root = Path(root)
    lines = [
        "# Citing a chapter",
        "",
        "Cite the original post for its ideas and the chapter for its derivations, "
        "code or checks. The",
        "entries below are biblatex (`@online` with a `url` field); they are "
        "generated from the chapters at",
        "build time, so every chapter of this build has one.",
        "",
    ]
    for nb in _toc_chapters(root):
        rel = nb.relative_to(root).as_posix()
        slug = nb.relative_to(root / "book").with_suffix("").as_posix()
        post = post_of(nb)
        lines += [
            "## "
            f"[{_cell(chapter_title(nb))}]({nb.relative_to(root / 'book').as_posix()})",
            "",
            "```bibtex",
        ]
        lines += [
            f"@online{{kexuebook-{slug.replace('/', '-')},",
            f"  title   = {{{{{chapter_title(nb)}}}}},",
            "  author  = {{The kexue book contributors}},",
            "  year    = {2026},",
            f"  url     = {{{repository}/blob/main/{rel}}},",
            f"  note    = {{The kexue book, chapter {slug}"
            + (
                "; an executable re-derivation of Su Jianlin, "
                f"kexue.fm/archives/{post['id']}"
                if post
                else ""
            )
            + "},",
            "}",
        ]
        if post:
            lines += [
                "",
                f"@online{{kexuefm-{post['id']},",
                f"  title   = {{{post['title']}}},",
                "  author  = {苏剑林 (Su Jianlin)},",
                f"  year    = {{{post['year']}}},",
                f"  month   = {{{_MONTHS[post['month'] - 1]}}},",
                f"  day     = {{{post['day']}}},",
                "  organization = {科学空间 (Scientific Spaces)},",
                f"  url     = {{{post['url']}}},",
                "}",
            ]
        lines += ["```", ""]
    return "\n".join(lines)


def _write_if_changed(target: Path, text: str) -> Path:
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def write_generated_pages(root: Path) -> list[Path]:
    """Write ``book/claims.md``, ``book/ledger.md`` and ``book/citing.md`` (only when
    their text changed).
    """
    import yaml

    root = Path(root)
    repo = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))[
        "repository"
    ]["url"]
    return [
        write_claims_index(root),
        _write_if_changed(root / "book" / "ledger.md", ledger_markdown(root)),
        _write_if_changed(root / "book" / "citing.md", citing_markdown(root, repo)),
    ]
