"""Clearing the execution cache when ``kexue_lib`` changed; see
:mod:`kexue_lib._book`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path


def library_hash(lib_dir: Path | None = None) -> str:
    """sha256 over the paths and contents of every ``.py`` file of the library
    (``kexue_lib``).
    """
    lib_dir = (
        Path(lib_dir) if lib_dir is not None else Path(__file__).resolve().parents[1]
    )
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
