"""The disk memo: same call read back, any changed input or damaged file recomputed."""

from __future__ import annotations

import pandas as pd
import pytest

import perfsim
from perfsim.runners.memo import call_key, memo_call
from perfsim.core.scheme import parse_scheme, raw_of

from ..conftest import MINI_SCHEME

CALLS: list[tuple] = []


def slow(scheme, seeds, factor=1.0):
    CALLS.append((seeds, factor))
    return pd.DataFrame({"seed": seeds, "value": [s * factor for s in seeds], "name": scheme.name})


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PERFSIM_CACHE", str(tmp_path))
    CALLS.clear()
    return tmp_path


def test_same_call_is_read_back_not_recomputed(cache):
    scheme = perfsim.load_scenario(MINI_SCHEME)
    first = memo_call(slow, scheme, [1, 2], factor=2.0)
    again = memo_call(slow, scheme, [1, 2], factor=2.0)
    pd.testing.assert_frame_equal(first, again)
    assert CALLS == [([1, 2], 2.0)]
    assert len(list(cache.rglob("*.parquet"))) == 1 and not list(cache.rglob(".*"))   # no temp files


def test_changed_argument_or_scheme_content_gives_a_new_key(cache):
    scheme = perfsim.load_scenario(MINI_SCHEME)
    raw = raw_of(scheme)
    raw["tree"]["children"]["targets"]["children"]["econ"]["weight"] = 3
    changed = parse_scheme(raw, "<changed>")
    keys = {call_key(slow, scheme, [1, 2]), call_key(slow, scheme, [1, 3]),
            call_key(slow, scheme, [1, 2], factor=3.0), call_key(slow, changed, [1, 2])}
    assert len(keys) == 4
    assert call_key(slow, scheme, [1, 2]) == call_key(slow, perfsim.load_scenario(MINI_SCHEME), (1, 2))


def test_damaged_cache_file_is_recomputed(cache):
    scheme = perfsim.load_scenario(MINI_SCHEME)
    memo_call(slow, scheme, [4])
    (path,) = cache.rglob("*.parquet")
    path.write_bytes(b"not parquet")
    assert memo_call(slow, scheme, [4])["value"].tolist() == [4.0]
    assert len(CALLS) == 2 and pd.read_parquet(path)["seed"].tolist() == [4]


def test_an_argument_that_cannot_be_keyed_is_refused(cache):
    with pytest.raises(TypeError, match="cannot key an argument of type object"):
        memo_call(slow, object(), [1])
    assert CALLS == []
