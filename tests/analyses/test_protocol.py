"""The one protocol of the analyses and its one writer (perfsim.analyses.result,
perfsim.analyses.protocol, perfsim.report.publish)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import perfsim
from perfsim.analyses.protocol import analyse, analyses, check_signature
from perfsim.analyses.result import Chart, Result, both
from perfsim.report.publish import DRAWERS, page, publish, readable_html

EXPECTED = {"audit", "compare", "consequences", "diagnosis", "efficiency", "influence", "methods", "moments", "raters",
            "track"}


def test_every_analysis_keeps_one_signature():
    found = analyses()
    assert EXPECTED <= set(found), set(found)
    for name, fn in found.items():
        assert check_signature(fn) == [], (name, check_signature(fn))


def test_a_broken_signature_is_named():
    def bad(dataset, scheme, year=None):
        return None

    problems = check_signature(bad)
    assert "the first two parameters are (scheme, dataset)" in problems
    assert "it takes year= and seed=" in problems and "every other parameter is keyword-only" in problems


def test_a_result_is_frozen_and_complete():
    table = pd.DataFrame({"unit_id": ["A"], "total": [1.0]})
    r = Result("x", both("标题", "title"), tables={"t": table}, texts=both("中文", "English"))
    with pytest.raises(TypeError):
        r.tables["u"] = table                       # a mapping proxy: read only
    with pytest.raises(AttributeError):
        r.analysis = "y"
    assert r.text("zh") == "中文" and r.text("en") == "English"
    with pytest.raises(ValueError, match="language"):
        r.text("fr")
    with pytest.raises(ValueError, match="no en title or text"):
        Result("x", both("标题", "title"), texts={"zh": "只有中文"})
    with pytest.raises(ValueError, match="draws table 'absent'"):
        Result("x", both("标题", "title"), tables={"t": table}, texts=both("a", "b"),
               figures={"f": Chart("influence", ("absent",), both("图", "figure"))})
    with pytest.raises(ValueError, match="shows table 'absent'"):
        Result("x", both("标题", "title"), texts=both("a", "b"), shown=(("absent", "表", "table"),))


def test_the_figures_of_three_analyses_name_known_drawers(world, baseline):
    """The drawers named by the results exist (the protocol's figures are data)."""
    for name in ("methods", "moments", "raters"):
        kwargs = {"boot": 5} if name == "moments" else {}
        result = analyse(name, None if name == "raters" else baseline, world, **kwargs)
        assert {c.draw for c in result.figures.values()} <= set(DRAWERS)


def test_publish_writes_tables_figures_page_and_provenance(tmp_path, world, baseline):
    result = analyse("methods", baseline, world)
    written = publish(result, tmp_path, {"command": "methods"}, {"数据 data": "test"})
    names = {p.name for p in written}
    assert {"method_ranks.csv", "method_summary.csv", "biggest_moves.csv", "methods.png", "methods.html",
            "run.json"} == names
    # CSV at full precision, as the table
    back = pd.read_csv(tmp_path / "method_summary.csv")
    assert back["tau"].round(12).tolist() == result.tables["method_summary"]["tau"].round(12).tolist()
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["command"] == "methods" and run["analysis"] == "methods"
    assert run["facts"]["tau_min"] == pytest.approx(result.facts["tau_min"])
    assert run["text"]["zh"] == result.text("zh") and run["figures"]["methods.png"]["draw"] == "methods"
    html = (tmp_path / "methods.html").read_text(encoding="utf-8")
    assert result.title["zh"] in html and result.title["en"] in html
    assert result.text("zh") in html and 'class="langs"' in html
    assert "http://" not in html and "https://" not in html and str(tmp_path) not in html
    assert "<th>" in html and "dataframe" not in html          # no pandas row numbers


def test_a_failed_drawing_leaves_nothing(tmp_path, world, baseline, monkeypatch):
    result = analyse("methods", baseline, world)

    def broken(tables, **args):
        raise RuntimeError("drawer failed")

    monkeypatch.setitem(DRAWERS, "methods", broken)
    with pytest.raises(RuntimeError):
        publish(result, tmp_path / "out", {})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_readable_html_rounds_and_names_columns_in_both_languages():
    frame = pd.DataFrame({"unit_id": ["A", "B"], "total": [73.888889, 80.0], "tau": [0.123456, 0.5],
                          "units": [3.0, 4.0]})
    html = readable_html(frame)
    assert "73.888889" not in html and "73.889" in html       # rounded for reading (the CSV keeps all)
    assert "0.123" in html and "0.123456" not in html
    assert ">3<" in html and "3.0" not in html                   # whole numbers as whole numbers
    assert "单位编号" in html and "unit id" in html


def test_page_opens_in_the_asked_language(world, baseline):
    result = analyse("moments", baseline, world, boot=5)
    assert "class='lang-en'" in page(result, lang="en") and "class='lang-en'" not in page(result, lang="zh")


def test_the_cli_and_the_function_give_the_same_result(tmp_path, baseline):
    from perfsim.cli import main

    assert main(["influence", "params/baseline.yaml", "--out", str(tmp_path)]) == 0
    direct = analyse("influence", perfsim.load_scenario("params/baseline.yaml"), perfsim.bundled_dataset())
    written = pd.read_csv(tmp_path / "influence.csv")
    assert written["indicator"].tolist() == direct.tables["influence"]["indicator"].tolist()
    assert json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))["facts"]["most_influential"] == \
        direct.facts["most_influential"]
