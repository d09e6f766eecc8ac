"""Every notebook runs through papermill with small parameters and has no error cell."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from .conftest import MINI, MINI_SCHEME, ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean_with_parameters_cell(notebook: Path):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_score_notebook_runs(tmp_path):
    out = tmp_path / "score.ipynb"
    pm.execute_notebook(ROOT / "notebooks" / "score.ipynb", out, kernel_name="python3",
                        parameters={"scenario": str(MINI_SCHEME), "data": str(MINI),
                                    "out_dir": str(tmp_path / "res")}, progress_bar=False)
    nb = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert (tmp_path / "res" / "mini_scores.csv").exists()
    images = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2
