"""The bundled synthetic world: generated once into data/synthetic, then reused."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import hashlib

from . import synth
from ..core.contract import Dataset
from .readers import load_dataset
from ..core.paths import SYNTH_DIR, SYNTH_SEED

STAMP = ".generator-stamp"


def generator_stamp(seed: int) -> str:
    """Hash of what the world depends on: the seed, the knob file and the generator code."""
    digest = hashlib.sha256(str(seed).encode())
    digest.update(synth.DEFAULT_PARAMS.read_bytes())
    digest.update(Path(synth.__file__).read_bytes())
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
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synth-", dir=folder.parent))
    try:
        synth.write(tmp, seed)
        (tmp / STAMP).write_text(stamp + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def bundled_dataset() -> Dataset:
    return load_dataset(ensure_synthetic())
