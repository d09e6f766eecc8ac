"""perfsim: simulate and compare municipal government performance-management schemes.

The Python API mirrors the command line::

    import perfsim
    data = perfsim.load_dataset("data/synthetic")      # or perfsim.bundled_dataset()
    scenario = perfsim.load_scenario("params/baseline.yaml")
    table = perfsim.score(scenario, data)              # a DataFrame

Names are imported on first use, so ``import perfsim`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Dataset": "perfsim.data", "load_dataset": "perfsim.data", "write_dataset": "perfsim.data",
    "check_fit": "perfsim.engine", "score": "perfsim.engine", "score_detail": "perfsim.engine",
    "PerfsimError": "perfsim.errors", "Resolved": "perfsim.scheme", "Scheme": "perfsim.scheme",
    "bundled_dataset": "perfsim.world",
}


def load_scenario(path):
    """Load a scheme or scenario file and resolve it (see :func:`perfsim.scheme.load`)."""
    from .scheme import load

    return load(path)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'perfsim' has no attribute {name!r}")


__all__ = [*_EXPORTS, "load_scenario", "__version__"]
