"""The analyses of the protocol by name (:mod:`perfsim.analyses.result`).

Every module of this floor that defines ``analysis(scheme, dataset, *, year=None, seed=...,
**options) -> Result`` is one; :func:`analyses` finds them, so a new analysis is its module
(with its command file and its tests) and nothing else. The CLI, the notebooks and the
batch call them the same way::

    from perfsim.analyses.protocol import analyse
    result = analyse("influence", scheme, dataset, year=2025)
    result.text("zh"); result.tables["influence"]
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import lru_cache
from typing import Any, Callable

#: modules of this floor that are not analyses (building blocks and the protocol itself)
_NOT_ANALYSES = {"result", "protocol"}


@lru_cache(maxsize=1)
def analyses() -> dict[str, Callable[..., Any]]:
    """{name: analysis function} of every analysis module (name: the module's ``ANALYSIS``,
    else the module's own name)."""
    floor = importlib.import_module(__name__.rpartition(".")[0])
    found = {}
    for info in pkgutil.iter_modules(floor.__path__):
        if info.name in _NOT_ANALYSES:
            continue
        module = importlib.import_module(f"{floor.__name__}.{info.name}")
        fn = getattr(module, "analysis", None)
        if callable(fn):
            found[getattr(module, "ANALYSIS", info.name)] = fn
    return dict(sorted(found.items()))


def check_signature(fn: Callable[..., Any]) -> list[str]:
    """What makes ``fn`` break the protocol (empty when it keeps it)."""
    params = list(inspect.signature(fn).parameters.values())
    problems = []
    if [p.name for p in params[:2]] != ["scheme", "dataset"] or any(
            p.kind is not p.POSITIONAL_OR_KEYWORD for p in params[:2]):
        problems.append("the first two parameters are (scheme, dataset)")
    rest = params[2:]
    if any(p.kind is not p.KEYWORD_ONLY for p in rest):
        problems.append("every other parameter is keyword-only")
    names = {p.name for p in rest}
    if not {"year", "seed"} <= names:
        problems.append("it takes year= and seed=")
    return problems


def analyse(name: str, scheme, dataset, **options):
    """Run the analysis ``name`` (see :func:`analyses`) and return its Result."""
    known = analyses()
    if name not in known:
        from ..core.errors import PerfsimError

        raise PerfsimError(f"no analysis '{name}' (known: {', '.join(known)})")
    return known[name](scheme, dataset, **options)
