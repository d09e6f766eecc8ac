"""The diagnosis's own files beside what :func:`perfsim.report.publish.publish` writes of
its Result: one page per unit (``units/<unit_id>.html``, the unit's feedback in Chinese
with English on the switch) and ``diagnosis.xlsx`` (one sheet per table, Chinese headers
first)."""

from __future__ import annotations

import html

import pandas as pd

from ..analyses.diagnosis import Diagnosis, diagnosis_of, diagnosis_text
from .pages import CSS
from .publish import readable_html

HEADERS = {"unit_id": "单位编号 unit", "name": "单位 name", "category": "类别 category", "total": "总分 total",
           "rank": "排名 rank", "of": "类别单位数 of", "grade": "等次 grade", "gap_to_above": "与前一名差距 gap to above",
           "gap_to_top": "与第一名差距 gap to top", "path": "指标路径 path", "indicator": "指标 indicator",
           "label": "名称 label", "score": "得分率 score", "points": "得分 points", "held": "分值 points at stake",
           "gap_to_full": "距满分 to full marks", "gap_to_best": "距类别最好 to the best", "target": "目标 target",
           "expected": "应完成 expected", "actual": "实际 actual", "progress": "进度 progress", "light": "灯 light",
           "vs_last_year": "比上年 vs last year", "year": "年度 year", "order": "序 order",
           "available": "可增分 points to gain", "needed": "超越前一名所需 needed", "share_needed": "所需得分率 share needed",
           "reaches": "可超越 passes", "item": "减分项 item", "note": "说明 note", "deduction": "减分 deduction",
           "bonus": "加分 bonus"}


def _page(d: Diagnosis, unit: str, scheme_name: str, labels: dict[str, str]) -> str:
    from .index_report import CSS as LANG_CSS
    from .index_report import SWITCH

    u = d.units.set_index("unit_id").loc[unit]
    leaves = d.leaves[d.leaves["unit_id"] == unit].drop(columns="unit_id").sort_values("gap_to_best", ascending=False)
    hist = d.history[d.history["unit_id"] == unit].drop(columns="unit_id")
    ded = d.deductions[d.deductions["unit_id"] == unit].drop(columns="unit_id")
    lev = d.levers[d.levers["unit_id"] == unit].drop(columns="unit_id")
    show = lambda f: readable_html(f.rename(columns=HEADERS), bilingual=False)      # noqa: E731
    name, h = html.escape(str(u["name"])), html.escape
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>绩效诊断 {name} ({h(unit)})</title><style>{CSS}{LANG_CSS}</style></head><body>{SWITCH}
<p class='meta'><a href="../index.html">← 全部单位 all units</a> · 方案 scheme: {h(scheme_name)} · 年度 year {d.year}</p>
<h1>绩效诊断 {name} <span class='en'>({h(unit)}, performance diagnosis)</span></h1>
<p class='headline l-zh'>{h(diagnosis_text(d, unit, "zh", labels))}</p>
<p class='headline l-en'>{h(diagnosis_text(d, unit, "en"))}</p>
<h2>提升名次的指标 (levers: the least change that passes the unit above)</h2>{show(lev)}
<h2>历年排名 (rank over the years)</h2>{show(hist)}
<h2>各项目标得分 (every target: score, gaps to full marks and to the category's best, progress)</h2>{show(leaves)}
<h2>减分 (deductions)</h2>{show(ded)}
</body></html>
"""


def unit_links(result, units: list[str] | None = None, labels: dict[str, str] | None = None) -> str:
    """The list of unit pages for the diagnosis's own page."""
    d = diagnosis_of(result)
    rows = d.units if not units else d.units[d.units["unit_id"].isin(units)]
    items = "".join(f"<li><a href='units/{html.escape(r.unit_id)}.html'>{html.escape(r.unit_id)} {html.escape(str(r.name))}</a>"
                    f" ({html.escape(str((labels or {}).get(r.category, r.category)))}, {int(r.rank)}/{int(r.of)})</li>"
                    for r in rows.itertuples())
    return f"<h2><span class='l-zh'>各单位诊断页</span><span class='l-en'>One page per unit</span></h2><ul>{items}</ul>"


def unit_pages(result, scheme_name: str, units: list[str] | None = None, labels: dict[str, str] | None = None):
    """A writer of the unit pages (``units/<unit_id>.html``) and ``diagnosis.xlsx`` (one
    sheet per table, Chinese headers first) into the diagnosis's output set."""
    d = diagnosis_of(result)
    chosen = units or list(d.units["unit_id"])

    def write(files) -> None:
        with pd.ExcelWriter(files.path("diagnosis.xlsx"), engine="openpyxl") as book:
            for name, frame in (("单位 units", d.units), ("指标 leaves", d.leaves), ("提升 levers", d.levers),
                                ("历年 history", d.history), ("减分 deductions", d.deductions)):
                frame.rename(columns=HEADERS).to_excel(book, sheet_name=name, index=False, freeze_panes=(1, 0))
        for unit in chosen:
            files.text(_page(d, unit, scheme_name, labels or {}), f"units/{unit}.html")
    return write
