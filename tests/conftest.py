"""Shared fixtures: the mini hand-computed dataset, the synthetic world, schemes."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import perfsim
from perfsim.sources import synth
from perfsim.core.contract import validate_frames

TESTS = Path(__file__).resolve().parent
# test inputs, not tests: keep nbval from collecting the notebooks under tests/data
collect_ignore_glob = ["data/*", "bad/*"]
ROOT = TESTS.parent
MINI = TESTS / "data" / "mini"
MINI_SCHEME = TESTS / "data" / "mini_scheme.yaml"
BASELINE = ROOT / "params" / "baseline.yaml"
# the disk memo (perfsim.runners.memo) of this test session, notebooks' kernels included, stays out
# of the project's outputs/ folder
os.environ["PERFSIM_CACHE"] = tempfile.mkdtemp(prefix="perfsim-test-cache-")
atexit.register(shutil.rmtree, os.environ["PERFSIM_CACHE"], ignore_errors=True)
# notebooks run with their default out_dir (nbval) save here, not into the project's outputs/
os.environ["PERFSIM_NOTEBOOK_OUT"] = tempfile.mkdtemp(prefix="perfsim-test-notebooks-")
atexit.register(shutil.rmtree, os.environ["PERFSIM_NOTEBOOK_OUT"], ignore_errors=True)


@pytest.fixture(scope="session")
def mini():
    return perfsim.load_dataset(MINI)


@pytest.fixture(scope="session")
def mini_scheme():
    return perfsim.load_scenario(MINI_SCHEME)


@pytest.fixture()
def mini_copy(tmp_path):
    """A writable copy of the mini dataset folder."""
    out = tmp_path / "mini"
    shutil.copytree(MINI, out)
    return out


@pytest.fixture(scope="session")
def world_tables():
    return synth.generate_world(seed=7)


@pytest.fixture(scope="session")
def world(world_tables):
    return validate_frames(world_tables, origin="<synthetic seed 7>")


@pytest.fixture(scope="session")
def baseline():
    return perfsim.load_scenario(BASELINE)


@pytest.fixture(autouse=True, scope="module")
def no_kernel_outlives_its_module():
    """A batch run in this process (one job) keeps its warm kernel for the next batch; a
    test module's kernel is stopped when the module ends, so no module depends on the state
    another left behind (with the tests in one folder per floor, a kept kernel reached
    test_batch in a state where it no longer answered)."""
    yield
    import sys

    kernels = sys.modules.get("perfsim.runners.kernels")
    if kernels is not None:
        kernels._forget_kernel()        # noqa: SLF001 - the suite's own clean-up
