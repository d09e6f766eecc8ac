"""Results of slow, pure computations kept on disk between notebook runs.

``memo_call(func, *args, **kwargs)`` returns ``func(*args, **kwargs)``, reading it from
``<cache>/<func name>/<key>.parquet`` when the same call ran before. The key hashes the
function's name, its arguments as plain data (schemes and scenarios by their resolved
content, arrays and paths by value) and the package's code, so a changed scheme, argument
or line of perfsim gives a new key. ``func`` must depend on its arguments only (pass
generator parameters explicitly rather than letting the function read a file). Files are
written atomically, so parallel batch workers that compute the same call race harmlessly.
The cache folder is ``outputs/.cache`` unless ``PERFSIM_CACHE`` names another; deleting it
is always safe.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..core.paths import cache_dir
from ..core.files import save_parquet
from ..report.provenance import source_hash
from ..core.scheme import Resolved, Scheme, raw_of


def _plain(value: Any) -> Any:
    """Arguments as JSON-able plain data, or a TypeError naming what cannot be keyed."""
    if isinstance(value, (Resolved, Scheme)):
        return {"scheme": raw_of(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"memo_call cannot key an argument of type {type(value).__name__}")


def call_key(func: Callable, *args: Any, **kwargs: Any) -> str:
    """The cache key of a call (see the module docstring)."""
    payload = {"func": f"{func.__module__}.{func.__qualname__}", "args": _plain(list(args)),
               "kwargs": _plain(kwargs), "code": source_hash()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def memo_call(func: Callable[..., pd.DataFrame], *args: Any, **kwargs: Any) -> pd.DataFrame:
    """``func(*args, **kwargs)``, from the disk cache when the same call ran before."""
    path = cache_dir() / func.__qualname__ / f"{call_key(func, *args, **kwargs)}.parquet"
    if path.exists():
        try:
            return pd.read_parquet(path)
        except Exception:          # a damaged file is recomputed and replaced
            pass
    frame = func(*args, **kwargs)
    save_parquet(frame, path)
    return frame
