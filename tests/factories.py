"""Factories and helpers the test folders share (fixtures are in conftest.py)."""

from __future__ import annotations

import signal

import pandas as pd

import perfsim
from perfsim.core.contract import validate_frames


def interruptible() -> None:
    """In a child process: Ctrl-C as at a terminal, even when the test run itself ignores
    SIGINT (a suite started in the background by a shell without job control)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def indicator_frames(values: dict[str, list[float]], categories: list[str] | None = None) -> perfsim.Dataset:
    """A one-year dataset of actuals only: one unit per value, one indicator per key (NaN: no actual)."""
    n = len(next(iter(values.values())))
    ids = [f"U{k}" for k in range(n)]
    units = pd.DataFrame({"unit_id": ids, "category": categories or ["c"] * n})
    indicators = pd.DataFrame({"indicator_id": list(values), "direction": "higher"})
    rows = [("2025-12", u, i, v) for i, col in values.items() for u, v in zip(ids, col) if v == v]
    actuals = pd.DataFrame(rows, columns=["period", "unit_id", "indicator_id", "value"])
    targets = pd.DataFrame(columns=["year", "unit_id", "indicator_id", "target"])
    return validate_frames({"units": units, "indicators": indicators, "targets": targets, "actuals": actuals})
