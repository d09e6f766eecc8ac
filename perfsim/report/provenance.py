"""Provenance that travels with results: code hash, git commit, environment, data hash,
and ``run.json`` beside a command's outputs."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def source_hash() -> str:
    """Hash of the package's own code, so that a code change invalidates cached jobs."""
    from ..core import VERSION as __version__
    from ..core.paths import PACKAGE_DIR

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def git_commit() -> str | None:
    """The project's git commit, when it runs from a checkout."""
    from ..core.paths import PROJECT_DIR

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


def run_facts(command: str, scenarios: dict, data: Path, synthetic: bool, **facts: Any) -> dict:
    """What ``run.json`` holds beside a command's results: the scenario files with their
    declarative diffs and resolved schemes, the data and its hash, the command's settings,
    the code version and the environment, so that the folder can be handed on as evidence.
    ``data`` is the folder or file actually read (see :func:`perfsim.open_dataset`)."""
    from ..core import VERSION as __version__

    return {
        "command": command, "argv": sys.argv,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenarios": {role: {"file": str(r.path), "name": r.name,
                             "diff": r.diff, "resolved": r.raw} for role, r in scenarios.items()},
        "data": {"path": str(data), "synthetic": synthetic, "sha256": files_hash(Path(data))},
        **facts,
        "perfsim_version": __version__, "git_commit": git_commit(), "environment": environment(),
    }
