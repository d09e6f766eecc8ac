"""The policy-reserve memo: opened as a reader would, its numbers recomputed from the
computations it was written from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import perfsim
from perfsim.analyses.reserve import check_numbers, consequences, policy_reserve, recommendation, who_gains
from perfsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCEN = ROOT / "params" / "scenarios"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref")
    assert main(["reference", "--worlds", "80", "--jobs", "2", "--no-progress", "--out", str(folder), "--scenarios",
                 str(SCEN / "leader5_proportional.yaml"), str(SCEN / "raters" / "leader_rank.yaml")]) == 0
    return folder


def test_who_gains_adds_up_to_the_scores():
    data = perfsim.bundled_dataset()
    base, scen = perfsim.load_scenario(ROOT / "params" / "baseline.yaml"), perfsim.load_scenario(SCEN / "leader0.yaml")
    table = who_gains(base, scen, data)
    b, s = perfsim.score(base, data), perfsim.score(scen, data)
    change = s.set_index("unit_id")["total"] - b.set_index("unit_id")["total"]
    cats = table[table["kind"] == "category"].set_index("group")
    for category, ids in b.groupby("category")["unit_id"]:
        assert cats.loc[category, "units"] == len(ids)
        assert cats.loc[category, "mean_change"] == pytest.approx(change.loc[ids].mean())
    kinds = table[table["kind"] == "district_type"]
    assert set(kinds["group"]) == {"central", "outer"} and kinds["units"].sum() == 13
    grades = list(base.scheme.grading.grades)
    gb = b.set_index("unit_id")["grade"].map(grades.index)
    gs = s.set_index("unit_id")["grade"].reindex(gb.index).map(grades.index)
    assert cats["grade_up"].sum() == int((gs < gb).sum()) and cats["grade_down"].sum() == int((gs > gb).sum())
    c = consequences(base, scen, data)
    best = grades[0]
    assert c["enter_best"] == int(((s.set_index("unit_id")["grade"].reindex(gb.index) == best)
                                   & (b.set_index("unit_id")["grade"] != best)).sum())


def test_recommendation_is_only_as_strong_as_the_evidence():
    v = lambda name, verdict: {"scenario": name, "verdict": verdict}            # noqa: E731
    assert recommendation([v("a", "helps"), v("b", "hurts")])["kind"] == "supported"
    assert recommendation([v("a", "undetermined"), v("b", "hurts")])["kind"] == "undecided"
    assert recommendation([v("a", "hurts")])["kind"] == "none_supported"
    assert recommendation([])["kind"] == "no_evidence"


@pytest.mark.slow
def test_memo_command_writes_a_word_file_whose_numbers_are_the_computed_ones(tmp_path, reference, capsys):
    import docx

    out = tmp_path / "memo.docx"
    argv = ["memo", str(ROOT / "params" / "baseline.yaml"), str(SCEN / "leader5_proportional.yaml"),
            str(SCEN / "raters" / "leader_rank.yaml"), "--reference", str(reference)]
    assert main(argv + ["--out", str(out)]) == 0
    assert "recommendation:" in capsys.readouterr().out
    doc = docx.Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs)
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == ["一、问题", "二、比较的方案", "三、对效度的影响"] and len(headings) == 8
    assert "/work/" not in text and "内置合成数据" in text
    # recompute what the memo says from the same computations
    data = perfsim.bundled_dataset()
    base = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    scen = [perfsim.load_scenario(SCEN / "leader5_proportional.yaml"),
            perfsim.load_scenario(SCEN / "raters" / "leader_rank.yaml")]
    memo = policy_reserve(base, scen, data, None, perfsim.load_reference(reference), seed=perfsim.DEFAULT_SEED)
    assert check_numbers(memo) == []
    for o in memo["options"]:
        v = o["verdict"]
        assert f"{v['median']:+.3f}，90% 区间 {v['q05']:+.3f} 至 {v['q95']:+.3f}" in text
        n = o["numbers"]
        assert [o["scenario"], o["change"]["zh"], f"{n['moved']} / {n['units']}", str(n["grade_changes"])] in \
            [[c.text for c in r.cells] for r in doc.tables[0].rows]
    groups = [[c.text for c in r.cells] for r in doc.tables[1].rows]
    first = pd.DataFrame(memo["options"][0]["groups"])
    economic = first.set_index("group").loc["economic"]
    assert ["经济管理类部门", str(economic["units"]), f"{economic['mean_change']:+.3f}", str(economic["grade_up"]),
            str(economic["grade_down"])] in groups
    assert len(doc.inline_shapes) == 1 and "图1" in text
    assert "key" in text and "data hash" in text
    # English on demand
    assert main(argv + ["--lang", "en", "--out", str(tmp_path / "memo_en.docx")]) == 0
    english = "\n".join(p.text for p in docx.Document(str(tmp_path / "memo_en.docx")).paragraphs)
    assert "1. The question" in english and "the bundled SYNTHETIC world" in english


def test_memo_without_a_reference_table_says_so(tmp_path, capsys):
    import docx

    out = tmp_path / "m.docx"
    assert main(["memo", str(ROOT / "params" / "baseline.yaml"), str(SCEN / "leader0.yaml"), "--reference",
                 str(tmp_path / "none"), "--out", str(out)]) == 0
    assert "no reference table" in capsys.readouterr().err
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    assert "未作效度判断" in text and "未能对效度作出判断" in text
    assert main(["memo", str(ROOT / "params" / "baseline.yaml"), str(SCEN / "leader0.yaml"),
                 "--out", str(tmp_path / "m.pdf")]) == 2
    assert "a Word file ends in .docx" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (Debian's libreoffice-writer) not installed")
def test_memo_converts_to_pdf_with_libreoffice(tmp_path, reference):
    out = tmp_path / "memo.docx"
    assert main(["memo", str(ROOT / "params" / "baseline.yaml"), str(SCEN / "leader5_proportional.yaml"),
                 "--reference", str(reference), "--out", str(out)]) == 0
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(out)],
                   check=True, capture_output=True, timeout=240)
    assert (tmp_path / "memo.pdf").stat().st_size > 20_000
    if shutil.which("pdffonts") and shutil.which("pdftotext"):
        fonts = subprocess.run(["pdffonts", str(tmp_path / "memo.pdf")], capture_output=True, text=True).stdout
        assert "CJK" in fonts                                  # the Chinese text is set in a CJK font
        text = subprocess.run(["pdftotext", str(tmp_path / "memo.pdf"), "-"], capture_output=True, text=True).stdout
        flat = "".join(text.split())                          # lines wrap inside Chinese words
        assert "政策储备报告" in flat and "谁得谁失" in flat and "\ufffd" not in text    # no missing glyphs
