"""Findings a decision maker can read: headlines from computed numbers, a report whose links
all resolve and are relative, a results workbook equal to the CSV tables, Chinese in figures
on any machine, CSV that Excel opens."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.analyses.findings import findings
from perfsim.runners.batch import run_batch

from ..conftest import MINI, MINI_SCHEME, ROOT, TESTS

SCENARIO = TESTS / "data" / "mini_scenario.yaml"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    manifest = run_batch([MINI_SCHEME, SCENARIO], [ROOT / "notebooks" / "scoring.ipynb",
                                                    ROOT / "notebooks" / "comparison.ipynb"],
                         out=out, name="r", data=str(MINI), jobs=2, progress=False)
    return out / "r", manifest


def test_headline_numbers_are_the_computed_ones(baseline):
    data = perfsim.open_dataset(None)
    scenario = perfsim.load_scenario(ROOT / "params" / "scenarios" / "leader5_proportional.yaml")
    f = findings(baseline, scenario, data)
    shifts = perfsim.rank_shifts(perfsim.score(baseline, data), perfsim.score(scenario, data))
    moved = int((shifts["shift"] != 0).sum())
    grades = int((shifts["grade_base"] != shifts["grade_scenario"]).sum())
    up, down = int(-shifts["shift"].min()), int(shifts["shift"].max())
    en, zh = f["headline"]["en"], f["headline"]["zh"]
    assert f"{moved} of {len(shifts)} units change rank" in en and f"{grades} change grade" in en
    assert f"largest move {up} up, {down} down" in en
    assert f"{len(shifts)} 个单位中 {moved} 个排名变化" in zh and f"{grades} 个等次变化" in zh
    assert "City-leader rating 10 -> 5 points" in en and "市领导评价 10 → 5 分" in zh
    central = next(g for g in f["groups"] if g["group"] == "central")
    units = data.units.set_index("unit_id")
    mask = shifts["unit_id"].map(units["district_type"]) == "central"
    assert central["mean_shift"] == pytest.approx(shifts.loc[mask, "shift"].mean())
    assert central["moved_up"] == int((shifts.loc[mask, "shift"] < 0).sum())


def test_headline_says_undetermined_when_the_interval_straddles_zero(baseline):
    data = perfsim.open_dataset(None)
    scenario = perfsim.load_scenario(ROOT / "params" / "scenarios" / "leader5_proportional.yaml")
    effects = pd.DataFrame([{"scenario": scenario.name, "metric": "delta_tau_truth", "median": -0.01,
                             "q05": -0.03, "q95": 0.002, "p_helps": 0.1, "p_hurts": 0.9, "verdict": "undetermined"}])
    f = findings(baseline, scenario, data, effects=effects, worlds=50)
    assert "does not measurably change" in f["headline"]["en"] and "lowers" not in f["headline"]["en"]
    assert "无法确定" in f["headline"]["zh"] and "区间跨过零" in f["headline"]["zh"] and "-0.010" in f["headline"]["en"] and "+0.002" in f["headline"]["en"]


@pytest.mark.parametrize("q05, q95, verdict, en, zh", [
    (0.004, 0.03, "helps", "raises", "提高"), (-0.03, -0.004, "hurts", "lowers", "降低")])
def test_headline_direction_follows_the_interval_both_ways(baseline, q05, q95, verdict, en, zh):
    data = perfsim.open_dataset(None)
    scenario = perfsim.load_scenario(ROOT / "params" / "scenarios" / "leader5_proportional.yaml")
    effects = pd.DataFrame([{"scenario": scenario.name, "metric": "delta_tau_truth", "median": (q05 + q95) / 2,
                             "q05": q05, "q95": q95, "p_helps": 0.5, "p_hurts": 0.5, "verdict": verdict}])
    f = findings(baseline, scenario, data, effects=effects, worlds=50)
    assert f"it {en} the ranking's agreement" in f["headline"]["en"]
    assert f"一致性{zh}" in f["headline"]["zh"]
    other = {"raises": "lowers", "lowers": "raises"}[en]
    assert other not in f["headline"]["en"] and "measurably" not in f["headline"]["en"]


def test_the_main_cause_of_a_move_is_its_largest_shapley_share(baseline):
    """Each mover's main cause is the component with the largest absolute Shapley share of
    its rank change, and the shares add up to the shift (efficiency of the Shapley value; no
    category re-cut here)."""
    data = perfsim.open_dataset(None)
    scenario = perfsim.load_scenario(ROOT / "params" / "scenarios" / "leader5_to_targets.yaml")
    f = findings(baseline, scenario, data)
    assert f["movers"]
    for mover in f["movers"]:
        shares = mover["shapley"]
        assert sum(shares.values()) == pytest.approx(mover["shift"], abs=1e-9)
        ranked = sorted(shares, key=lambda k: -abs(shares[k]))
        assert mover["main_cause"] == ranked[0]
        assert abs(shares[ranked[0]]) > abs(shares[ranked[1]]) - 1e-12
        label = {c: n.label for c, n in baseline.scheme.components.items()}.get(ranked[0])
        if label:
            assert mover["main_cause_label"] == label


def _links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return re.findall(r'(?:href|src)=["\']([^"\'#]+)["\']', text)


def test_every_link_of_the_report_resolves_and_is_relative(report):
    root, manifest = report
    pages = [root / "index.html", root / "jobs.html"] + sorted(root.glob("*/*/*.html"))
    assert len(pages) > 4
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for link in _links(page):
            if link.startswith("data:"):
                continue
            # nothing from the internet (an office intranet has none); the one local address
            # allowed is the explorer's (started by the reader on the same machine)
            if link.startswith(("http://", "https://")):
                assert link.startswith("http://127.0.0.1:5006/?scenario="), (page, link)
                continue
            assert not link.startswith("/") and ":" not in link.split("/")[0], (page, link)
            assert (page.parent / link).exists(), (page, link)
        # no machine's folders, no address of the internet at all (a CSS comment included)
        assert str(ROOT) not in text and str(root) not in text and "/tmp/" not in text, page
        assert not re.findall(r"https?://(?!127\.0\.0\.1:5006/)", text), (page, re.findall(r"https?://\S{0,40}", text)[:3])
        assert re.search(r"<h[12][ >]", text), f"{page} has no heading"
    index = (root / "index.html").read_text(encoding="utf-8")
    assert "jobs.html" in index and "results.xlsx" in index
    assert str(ROOT) not in index and str(root) not in index          # no machine's folders
    for page in root.glob("*/*/*.html"):                            # every notebook page links back
        assert "../../index.html" in page.read_text(encoding="utf-8"), page


def test_index_numbers_are_recomputed_from_the_score_tables(report):
    """Winners and losers and the grade transitions on the index equal what pandas computes
    directly from the two scenarios' scores.csv."""
    import json

    root, manifest = report
    numbers = json.loads((root / "figures" / "index_numbers.json").read_text(encoding="utf-8"))
    names = {s["name"]: s for s in manifest["scenarios"]}
    scen = next(n for n, s in names.items() if s.get("base"))
    base = next(n for n in names if n != scen)
    a = pd.read_csv(root / base / "scoring" / "tables" / "scores.csv", encoding="utf-8-sig").set_index("unit_id")
    b = pd.read_csv(root / scen / "scoring" / "tables" / "scores.csv", encoding="utf-8-sig").set_index("unit_id")
    grades = list(dict.fromkeys(["优秀", "良好", "达标", "不达标"]))
    direct = pd.crosstab(a["grade"], b.reindex(a.index)["grade"]).reindex(index=grades, columns=grades, fill_value=0)
    assert numbers["transitions"][scen] == direct.to_numpy().tolist()
    units = perfsim.load_dataset(MINI).units.set_index("unit_id")
    kind = units["district_type"].fillna("").map(lambda t: f"{t} district" if t else "")
    group = kind.where(kind != "", units["category"])
    change = (b["total"] - a["total"].reindex(b.index)).groupby(group.reindex(b.index)).mean()
    shown = {r["group"]: r["mean_total_change"] for r in numbers["winners"] if r["scenario"] == scen}
    assert shown.keys() == set(change.index)
    for g, v in change.items():
        assert shown[g] == pytest.approx(v)
    assert numbers["pages"] == len([p for p in root.rglob("*.html") if p.name != "index.html"])


def test_comparing_notebooks_are_skipped_for_a_plain_scheme(report):
    _, manifest = report
    by = {(j["scenario"], j["notebook"]): j for j in manifest["jobs"]}
    assert by[("mini", "comparison")]["status"] == "skipped"
    assert by[("mini_leader10", "comparison")]["status"] == "done"


def test_results_workbook_equals_the_tables(report):
    """One Chinese header row, numbers stored as numbers with formats, an autofilter over
    each table and a frozen header: Excel's filter and pivot tables work as they are."""
    from openpyxl import load_workbook

    root, _ = report
    wb = load_workbook(root / "results.xlsx")
    for name in ("mini", "mini_leader10"):
        scores = pd.read_csv(root / name / "scoring" / "tables" / "scores.csv")
        ws = wb[name]
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0][:6] == ("单位编号", "单位", "类别", "总分", "排名", "等次")
        assert rows[0][-3:] == ("加分", "减分", "一票否决")
        sheet = pd.DataFrame(rows[1:], columns=rows[0]).set_index("单位编号")
        table = scores.set_index("unit_id")
        assert set(sheet.index) == set(table.index) and len(sheet) == len(table)
        assert all(isinstance(v, float) for v in sheet["总分"])            # numbers, not text
        assert all(isinstance(v, int) for v in sheet["排名"])
        assert np.allclose(sheet.loc[table.index, "总分"].astype(float), table["total"])
        assert (sheet.loc[table.index, "排名"] == table["rank"]).all()
        assert (sheet.loc[table.index, "等次"] == table["grade"]).all()
        assert set(sheet["一票否决"]) <= {"是", "否"}
        assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}{len(table) + 1}"
        assert ws.freeze_panes == "C2"
        assert ws["D2"].number_format == "0.00" and ws["E2"].number_format == "0"
        assert ws.column_dimensions["B"].width >= 2 * max(len(n) for n in table["name"])   # CJK: two each
    assert "比较" in wb.sheetnames and "说明" in wb.sheetnames
    comp = wb["比较"]
    head = [c.value for c in comp[1]]
    assert comp.max_row == 3 and comp.auto_filter.ref and comp.freeze_panes == "B2"
    row = dict(zip(head, [c.value for c in comp[3]]))
    assert row["方案"] == "mini_leader10" and row["基准方案"] == "mini"
    assert all(isinstance(row[c], (int, float)) for c in ("平均总分", "最低总分", "最高总分", "与基准排名一致性τ"))
    assert comp.cell(row=3, column=head.index("平均总分") + 1).number_format == "0.00"
    glossary = [tuple(c.value for c in r) for r in wb["说明"].iter_rows()]
    assert ("各方案表 (every scenario sheet)", "总分", "total") in glossary
    assert ("比较", "平均总分", "mean total") in glossary
    assert len([g for g in glossary if g[1:] == ("总分", "total")]) == 1            # each column once


def test_readable_tables_have_chinese_headers_and_rounded_values(report):
    root, _ = report
    scores = pd.read_csv(root / "mini_leader10" / "scoring" / "tables" / "scores.csv").set_index("unit_id")
    text = (root / "readable" / "ranking_mini_leader10.csv").read_text(encoding="utf-8")
    assert text.startswith("\ufeff单位编号,单位,类别,总分,排名,等次")
    readable = pd.read_csv(root / "readable" / "ranking_mini_leader10.csv", encoding="utf-8-sig").set_index("单位编号")
    assert np.allclose(readable.loc[scores.index, "总分"], scores["total"].round(2), atol=1e-9)
    assert all(len(str(v).split(".")[-1]) <= 2 for v in readable["总分"])
    comparison = pd.read_csv(root / "readable" / "comparison.csv", encoding="utf-8-sig")
    assert list(comparison.columns[:3]) == ["方案", "基准方案", "单位数"]


def test_ranking_table_names_categories_by_the_schemes_labels():
    from perfsim.report.pages import ranking_table

    scores = pd.DataFrame({"unit_id": ["A", "B"], "name": ["甲", "乙"], "category": ["district", "x"],
                           "total": [90.123456, 80.0], "rank": [1, 1], "grade": ["优秀", "良好"], "leader": [9.5, 8.0],
                           "bonus": [0.0, 0.5], "deduction": [0.0, 0.0], "veto": [False, True]})
    resolved = {"tree": {"children": {"leader": {"label": "领导评价", "label_en": "Leader rating"}}},
                "category_labels": {"district": "区"}}
    names, rows, formats = ranking_table({"scores": scores, "resolved": resolved})
    assert [n[0] for n in names] == ["单位编号", "单位", "类别", "总分", "排名", "等次", "领导评价", "加分", "减分",
                                     "一票否决"]
    assert rows[0][2] == "区" and rows[1][2] == "x"          # no label: the code itself
    assert rows[1][-1] == "是" and rows[0][-1] == "否"
    assert formats[3] == "0.00" and formats[4] == "0"


def test_results_workbook_is_the_same_bytes_when_written_again(report, tmp_path, monkeypatch):
    """openpyxl stamps the time of saving into a workbook: the batch fixes it, so the same
    results give the same file (a rerun's workbook can be compared byte for byte)."""
    import time

    from perfsim.report import pages

    root, manifest = report
    before = (root / "results.xlsx").read_bytes()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3 * 86400)       # three days later
    again = pages.write_results_workbook(root, manifest)
    assert again.read_bytes() == before


def test_chinese_labels_draw_without_missing_glyphs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = perfsim.setup_fonts()
    assert family is not None
    fig, ax = plt.subplots()
    ax.set_title("市领导评价 满意度评价 优秀 良好 达标 不达标")
    ax.set_xlabel("考评类别")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    missing = [str(w.message) for w in seen if "missing from" in str(w.message)]
    assert not missing, missing


def test_csv_tables_carry_a_bom_for_excel(tmp_path, mini, mini_scheme):
    path = perfsim.save_table(perfsim.score(mini_scheme, mini), "scores", tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(pd.read_csv(path).columns)[0] == "unit_id"


def test_strip_points_jitter_comes_from_the_seed_and_leaves_numpys_global_state_alone():
    """seaborn jitters a strip plot from numpy's global generator: the same figure of the
    same data differed between runs until the jitter came from the notebook's seed."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = pd.DataFrame({"category": ["a"] * 30 + ["b"] * 30, "total": np.linspace(60, 95, 60)})

    def png(seed: int) -> bytes:
        fig, ax = plt.subplots(figsize=(4, 3))
        perfsim.strip_points(data, "category", "total", ax, seed, size=3)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    np.random.seed(5)
    expected_next = np.random.random()
    np.random.seed(5)
    first = png(1)
    assert np.random.random() == expected_next            # the global generator is where it was
    assert png(1) == first and png(2) != first
