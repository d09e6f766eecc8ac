"""The bundled synthetic world: generated once into data/synthetic, then reused."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from . import synth
from .data import Dataset, load_dataset
from .paths import SYNTH_DIR, SYNTH_SEED


def ensure_synthetic(folder: Path = SYNTH_DIR, seed: int = SYNTH_SEED) -> Path:
    """Generate the synthetic world into ``folder`` unless it is already complete.

    Written to a temporary sibling folder and renamed into place, so an interrupted
    run never leaves a half-written dataset behind.
    """
    folder = Path(folder)
    if (folder / "SYNTHETIC_README.txt").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synth-", dir=folder.parent))
    try:
        synth.write(tmp, seed)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def bundled_dataset() -> Dataset:
    return load_dataset(ensure_synthetic())
