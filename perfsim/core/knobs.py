"""Parameter files of knobs: every value carries its basis (grounded or assumption)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .errors import PerfsimError
from .yamlio import load_yaml


#: where a knob's value comes from: the source document (grounded), a choice to vary
#: (assumption), or a fit to documented facts (calibrated, by ``perfsim calibrate``)
BASES = ("grounded", "assumption", "calibrated")


def load_knobs(path: str | Path) -> dict[str, Any]:
    """Load a knob file: every knob is ``{value, basis, source}`` (basis grounded,
    assumption or calibrated), alone or in a section of knobs; returns the values, sections
    as dicts."""
    path = Path(path)
    raw = load_yaml(path)
    values: dict[str, Any] = {}
    for key, knob in raw.items():
        if isinstance(knob, dict) and "value" in knob:
            _check_knob(knob, key, path)
            values[key] = knob["value"]
            continue
        if not isinstance(knob, dict):
            raise PerfsimError(f"key '{key}': expected a knob {{value, basis, source}} or a "
                               "section of knobs", where=path)
        section = {}
        for name, sub in knob.items():
            if not isinstance(sub, dict) or "value" not in sub:
                raise PerfsimError(f"key '{key}.{name}': a knob needs value and basis", where=path)
            _check_knob(sub, f"{key}.{name}", path)
            section[name] = sub["value"]
        values[key] = section
    return values


def _check_knob(knob: Mapping[str, Any], key: str, path: Path) -> None:
    unknown = set(knob) - {"value", "basis", "source"}
    if unknown:
        raise PerfsimError(f"key '{key}': unknown key(s) {sorted(unknown)}", where=path)
    if knob.get("basis") not in BASES:
        raise PerfsimError(f"key '{key}.basis': must be grounded, assumption or calibrated", where=path)
    if knob.get("basis") == "calibrated" and not knob.get("source"):
        raise PerfsimError(f"key '{key}.source': a calibrated knob names its calibration", where=path)
