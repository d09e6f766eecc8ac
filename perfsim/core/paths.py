"""Where the project's files are. No side effects on import."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = PACKAGE_DIR.parent
#: scheme, scenario and generator parameters (overridable for an installed package)
PARAMS_DIR = Path(os.environ.get("PERFSIM_PARAMS", PROJECT_DIR / "params"))
DATA_DIR = Path(os.environ.get("PERFSIM_DATA", PROJECT_DIR / "data"))
#: the bundled synthetic world, generated on first use with this seed
SYNTH_DIR = DATA_DIR / "synthetic"
SYNTH_SEED = 20250101
#: the synthetic world's knobs (what each is calibrated to, or assumed)
SYNTH_PARAMS = PARAMS_DIR / "synth.yaml"
#: the one default seed of the command line, batches and notebooks
DEFAULT_SEED = 20250101
REAL_DIR = DATA_DIR / "real"


def cache_dir() -> Path:
    """Where :mod:`perfsim.runners.memo` keeps results (``PERFSIM_CACHE``, read at call time)."""
    return Path(os.environ.get("PERFSIM_CACHE", PROJECT_DIR / "outputs" / ".cache"))


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists from here, else relative to the project folder.

    Lets notebooks (run from notebooks/ or elsewhere) take ``params/baseline.yaml``.
    """
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    return PROJECT_DIR / given


def shown_path(path: str | Path) -> str:
    """A path as it is shown and passed on: relative to the project when inside it (so
    outputs name no machine's folders), else absolute."""
    path = Path(path)
    try:
        return path.resolve().relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path.resolve())
