"""perfsim: simulate and compare municipal government performance-management schemes.

The Python API mirrors the command line::

    import perfsim
    data = perfsim.load_dataset("data/synthetic")      # or perfsim.bundled_dataset()
    scenario = perfsim.load_scenario("params/baseline.yaml")
    table = perfsim.score(scenario, data)              # a DataFrame
"""

from __future__ import annotations

from .data import Dataset, load_dataset, write_dataset
from .engine import check_fit, score, score_detail
from .errors import PerfsimError
from .scheme import Resolved, Scheme
from .scheme import load as load_scenario

__version__ = "0.1.0"


def bundled_dataset():
    """The bundled synthetic world (generated into data/synthetic on first use)."""
    from .world import bundled_dataset as _bundled
    return _bundled()


__all__ = ["Dataset", "PerfsimError", "Resolved", "Scheme", "bundled_dataset", "check_fit",
           "load_dataset", "load_scenario", "score", "score_detail", "write_dataset",
           "__version__"]
