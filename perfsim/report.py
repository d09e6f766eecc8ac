"""Writing results from notebooks and batches: atomic files, tables as CSV and Parquet,
and the provenance that travels with them."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


def _publish(tmp: str, path: Path) -> None:
    """Give a finished temporary file the usual permissions and rename it into place."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, payload: Any) -> Path:
    return atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def save_table(frame: pd.DataFrame, name: str, out_dir: str | Path) -> Path:
    """Save ``frame`` as ``out_dir/tables/NAME.csv`` and ``NAME.parquet``; return the CSV path."""
    folder = Path(out_dir) / "tables"
    csv = atomic_write_text(folder / f"{name}.csv", frame.to_csv(index=False, lineterminator="\n"))
    save_parquet(frame, folder / f"{name}.parquet", index=False)
    return csv


def save_parquet(frame: pd.DataFrame, path: str | Path, index: bool | None = None) -> Path:
    """Write ``frame`` to a Parquet file through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=index)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_figure(fig, name: str, out_dir: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as ``out_dir/figures/NAME.png``."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# --------------------------------------------------------------------------- provenance

def source_hash() -> str:
    """Hash of the package's own code, so that a code change invalidates cached jobs."""
    from . import __version__
    from .paths import PACKAGE_DIR

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def git_commit() -> str | None:
    """The project's git commit, when it runs from a checkout."""
    from .paths import PROJECT_DIR

    try:
        out = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except Exception:
        return None


def environment() -> dict:
    """Python, platform and the versions of the libraries results depend on."""
    from importlib import metadata

    versions = {}
    for name in ("numpy", "pandas", "scipy", "matplotlib", "seaborn", "papermill", "pandera",
                 "pydantic", "SALib", "dask", "distributed"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions}


def files_hash(path: Path) -> str:
    """sha256 over a dataset's files (names and bytes): cheap, and exact for a key."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def write_run(out_dir: str | Path, command: str, scenarios: dict, data: str | Path | None, **facts: Any) -> Path:
    """``run.json`` beside a command's results: the scenario files with their declarative
    diffs and resolved schemes, the data and its hash, the command's settings, the code
    version and the environment, so that the folder can be handed on as evidence."""
    from . import __version__
    from .world import ensure_synthetic

    data_path = Path(data) if data is not None else ensure_synthetic()
    payload = {
        "command": command, "argv": sys.argv,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenarios": {role: {"file": str(r.path), "name": r.name,
                             "diff": r.diff, "resolved": r.raw} for role, r in scenarios.items()},
        "data": {"path": str(data_path), "synthetic": data is None, "sha256": files_hash(data_path)},
        **facts,
        "perfsim_version": __version__, "git_commit": git_commit(), "environment": environment(),
    }
    return write_json(Path(out_dir) / "run.json", payload)
