"""One validation layer for command-line options.

Every option with a constrained value is parsed by one of these types, so a bad value
ends in one line ``perfsim: error: argument --draws: ...`` and exit code 2 before any work
starts, never in a traceback or a nonsensical result.
"""

from __future__ import annotations

import argparse
import math
import re

#: bounds that keep a run finite in time and memory on one machine
MAX_DRAWS = 10_000_000
MAX_CHUNK = 1_000_000
MAX_JOBS = 256
MAX_SEED = 2 ** 63 - 1
MAX_SOBOL_N = 2 ** 16
#: the largest block of draws x units held at once (8 bytes each: 400 MB)
MAX_CELLS = 50_000_000
SCHEDULER = re.compile(r"^(?:(tcp|tls|ucx|inproc)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _int(text: str) -> int:
    try:
        value = int(str(text).strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return value


def bounded_int(low: int, high: int, what: str = "") -> "callable":
    """An integer in [low, high]."""
    def parse(text: str) -> int:
        value = _int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:,}{what} (got {value:,})")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}{what} (got {value:,})")
        return value
    parse.__name__ = "integer"
    return parse


draws = bounded_int(1, MAX_DRAWS)
chunk = bounded_int(1, MAX_CHUNK)
jobs = bounded_int(1, MAX_JOBS, " worker processes")
seed = bounded_int(0, MAX_SEED)
top = bounded_int(0, 10_000)
worlds = bounded_int(1, 100_000)
budget = bounded_int(1, 100_000)
rank = bounded_int(1, 1_000_000)
year = bounded_int(1900, 2200)
timeout = bounded_int(1, 7 * 24 * 3600, " seconds")
port = bounded_int(1, 65535)


def sobol_n(text: str) -> int:
    """SALib's base sample size: a power of two (its Sobol' sequence needs one)."""
    value = bounded_int(2, MAX_SOBOL_N)(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two, such as 64, 256 or 1024 (got {value:,})")
    return value


def _number(text: str) -> float:
    """The option's text as a float (its own check decides what values it takes)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive_float(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number (got {text})")
    return value


def scheduler(text: str) -> str:
    """A Dask scheduler address: ``tcp://HOST:PORT`` (scheme and port optional)."""
    match = SCHEDULER.match(str(text).strip())
    port = match.group(3) if match else None
    if not match or (port is not None and not 0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address such as tcp://127.0.0.1:8786")
    return str(text).strip()


def batch_name(text: str) -> str:
    """A batch name: one folder name (letters, digits, _ . -), never a path."""
    from ..runners.batch import SAFE_NAME

    if not SAFE_NAME.match(text) or text in (".", ".."):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain folder name (letters, digits, _ . - only; no / or ..)")
    return text


def period(text: str) -> str:
    if not PERIOD.match(str(text).strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a period YYYY-MM (e.g. 2025-06)")
    return str(text).strip()


def encoding(text: str) -> str:
    """A text encoding Python knows (utf-8, gbk, gb18030, big5, ...)."""
    import codecs

    try:
        return codecs.lookup(str(text).strip()).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a known text encoding (e.g. utf-8, gbk, gb18030)") from None


def year_or_all(text: str) -> "int | str":
    """A year, or ``all`` (every year in the data)."""
    if str(text).strip().lower() == "all":
        return "all"
    return year(text)


def correlation(text: str) -> float:
    """A correlation threshold in (0, 1]."""
    value = _number(text)
    if not math.isfinite(value) or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1 (got {text})")
    return value


def probability(text: str) -> float:
    """A rate strictly between 0 and 1 (a false-discovery rate)."""
    value = _number(text)
    if not math.isfinite(value) or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1 (got {text})")
    return value


def share(text: str) -> float:
    """A share of points in (0, 1]."""
    return correlation(text)
