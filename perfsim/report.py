"""Writing results from notebooks and batches: atomic files, tables as CSV and Parquet."""

from __future__ import annotations

import json
import os
import tempfile
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
    parquet = folder / f"{name}.parquet"
    fd, tmp = tempfile.mkstemp(prefix=f".{parquet.name}.", dir=folder)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        _publish(tmp, parquet)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return csv


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
