"""Sweeps of one scheme parameter at a time (special-indicator points, facet weights, caps).

:func:`sweep` scores the dataset once per value of a parameter path (the same paths as
a scenario's ``set``), so a researcher sees how totals, ranks and grades move as one
lever moves; :func:`grade_changes` and :func:`group_gap` summarise a sweep.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from ..core.contract import Dataset
from ..core.engine import score
from ..core.scheme import Resolved, Scheme, apply_diff, parse_scheme, raw_of


def lever_sweep(scheme: Resolved | Scheme, dataset: Dataset, changes: Iterable[dict[str, Any]],
          label: Iterable[Any] | None = None, year: int | None = None) -> pd.DataFrame:
    """Score once per change set (``{path: value, ...}``); long table with a ``value`` column."""
    raw = raw_of(scheme)
    changes = list(changes)
    labels = list(label) if label is not None else [next(iter(c.values())) for c in changes]
    frames = []
    for value, change in zip(labels, changes):
        variant = parse_scheme(apply_diff(raw, change, [], "<sweep>"), f"<sweep {change}>")
        frames.append(score(variant, dataset, year).assign(value=value))
    return pd.concat(frames, ignore_index=True)


def sweep_grade_changes(swept: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Per swept value: how many units' grades and ranks differ from ``base``."""
    ref = base.set_index("unit_id")
    rows = []
    for value, g in swept.groupby("value", sort=False):
        g = g.set_index("unit_id")
        rows.append({"value": value,
                     "grade_changes": int((g["grade"] != ref["grade"].reindex(g.index)).sum()),
                     "rank_changes": int((g["rank"] != ref["rank"].reindex(g.index)).sum())})
    return pd.DataFrame(rows)


def group_gap(swept: pd.DataFrame, dataset: Dataset, column: str = "district_type") -> pd.DataFrame:
    """Per swept value and group of units (e.g. central vs outer districts): mean total and
    mean rank; units without a value in ``column`` are left out."""
    groups = dataset.units.set_index("unit_id")[column]
    frame = swept.assign(group=swept["unit_id"].map(groups)).dropna(subset=["group"])
    return frame.groupby(["value", "group"], sort=False).agg(
        units=("unit_id", "count"), mean_total=("total", "mean"), mean_rank=("rank", "mean")).reset_index()
