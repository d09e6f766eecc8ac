"""The bundled synthetic world: generated once into data/synthetic, then reused."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.paths import SYNTH_DIR, SYNTH_PARAMS, SYNTH_SEED

if TYPE_CHECKING:
    from ..core.contract import Dataset

STAMP = ".generator-stamp"
#: the generator's code (its module is imported only to generate: checking that the world
#: is current needs neither numpy nor pandas)
SYNTH_CODE = Path(__file__).with_name("synth.py")


def generator_stamp(seed: int) -> str:
    """Hash of what the world depends on: the seed, the knob file and the generator code."""
    digest = hashlib.sha256(str(seed).encode())
    digest.update(SYNTH_PARAMS.read_bytes())
    digest.update(SYNTH_CODE.read_bytes())
    return digest.hexdigest()


def ensure_synthetic(folder: Path = SYNTH_DIR, seed: int = SYNTH_SEED) -> Path:
    """Generate the synthetic world into ``folder`` unless it is complete and current.

    The folder carries a stamp of the seed, knobs and generator code; a stale world is
    regenerated. Written to a temporary sibling folder and renamed into place, so an
    interrupted run never leaves a half-written dataset behind.
    """
    folder = Path(folder)
    stamp = generator_stamp(seed)
    if (folder / STAMP).exists() and (folder / STAMP).read_text().strip() == stamp:
        return folder
    from ..core.files import held_signals
    from . import synth

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synth-", dir=folder.parent))
    try:
        synth.write(tmp, seed, record=False)          # a cache, not the command's result
        (tmp / STAMP).write_text(stamp + "\n")
        with held_signals():                          # the old world out and the new one in, together
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def data_path(path: str | Path | None) -> Path:
    """The folder or file a data argument names; ``None`` or ``""``: the bundled
    synthetic world (generated on first use)."""
    if is_bundled(path):
        return ensure_synthetic()
    return Path(path)


def is_bundled(path: str | Path | None) -> bool:
    return path is None or str(path) == ""


def bundled_dataset() -> Dataset:
    from .readers import load_dataset

    return load_dataset(ensure_synthetic())


def open_dataset(path: str | Path | None = None, encoding: str | None = None) -> Dataset:
    """The dataset a data argument names (see :func:`data_path`), loaded and validated."""
    from .readers import load_dataset

    return load_dataset(data_path(path), encoding)
