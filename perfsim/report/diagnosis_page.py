"""The diagnosis as files: one page per unit (``units/<unit_id>.html``), an index, the
tables as CSV and ``diagnosis.xlsx`` (one sheet per table, Chinese headers first)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ..analyses.diagnosis import Diagnosis, diagnosis_text
from ..core.files import OutputSet
from .pages import CSS, html_table

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


def _page(d: Diagnosis, unit: str, scheme_name: str) -> str:
    u = d.units.set_index("unit_id").loc[unit]
    leaves = d.leaves[d.leaves["unit_id"] == unit].drop(columns="unit_id").sort_values("gap_to_best", ascending=False)
    hist = d.history[d.history["unit_id"] == unit].drop(columns="unit_id")
    ded = d.deductions[d.deductions["unit_id"] == unit].drop(columns="unit_id")
    lev = d.levers[d.levers["unit_id"] == unit].drop(columns="unit_id")
    show = lambda f: html_table(f.rename(columns=HEADERS), digits=2)      # noqa: E731
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>绩效诊断 {html.escape(str(u['name']))} ({html.escape(unit)})</title><style>{CSS}</style></head><body>
<p class='meta'><a href="../index.html">← 全部单位 all units</a> · 方案 scheme: {html.escape(scheme_name)} · 年度 year {d.year}</p>
<h1>绩效诊断 {html.escape(str(u['name']))} <span class='en'>({html.escape(unit)}, performance diagnosis)</span></h1>
<p class='headline'>{html.escape(diagnosis_text(d, unit))}</p>
<h2>提升名次的指标 (levers: the least change that passes the unit above)</h2>{show(lev)}
<h2>历年排名 (rank over the years)</h2>{show(hist)}
<h2>各项目标得分 (every target: score, gaps to full marks and to the category's best, progress)</h2>{show(leaves)}
<h2>减分 (deductions)</h2>{show(ded)}
</body></html>
"""


def write_diagnosis(d: Diagnosis, out: str | Path, scheme_name: str, units: list[str] | None = None) -> list[Path]:
    """All files of ``perfsim diagnose``, all or nothing."""
    chosen = units or list(d.units["unit_id"])
    index_rows = d.units[d.units["unit_id"].isin(chosen)].copy()
    index_rows["page"] = [f"<a href='units/{html.escape(u)}.html'>{html.escape(u)}</a>" for u in index_rows["unit_id"]]
    with OutputSet(out) as files:
        files.csv(d.units, "units.csv")
        files.csv(d.leaves, "leaves.csv")
        files.csv(d.history, "history.csv")
        files.csv(d.levers, "levers.csv")
        files.csv(d.deductions, "deductions.csv")
        with pd.ExcelWriter(files.path("diagnosis.xlsx"), engine="openpyxl") as book:
            for name, frame in (("单位 units", d.units), ("指标 leaves", d.leaves), ("提升 levers", d.levers),
                                ("历年 history", d.history), ("减分 deductions", d.deductions)):
                frame.rename(columns=HEADERS).to_excel(book, sheet_name=name, index=False, freeze_panes=(1, 0))
        for unit in chosen:
            files.text(_page(d, unit, scheme_name), f"units/{unit}.html")
        table = index_rows.drop(columns="page").rename(columns=HEADERS).to_html(index=False, escape=True)
        links = "".join(f"<li>{p} {html.escape(str(n))} ({html.escape(str(c))}, {int(r)}/{int(o)})</li>"
                        for p, n, c, r, o in zip(index_rows["page"], index_rows["name"], index_rows["category"],
                                                 index_rows["rank"], index_rows["of"]))
        files.text(f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>绩效诊断 diagnosis</title>
<style>{CSS}</style></head><body><h1>绩效诊断 <span class='en'>(performance diagnosis, {d.year}, scheme {html.escape(scheme_name)})</span></h1>
<p class='meta'>One page per unit: its score on every target, rank within its category and over the years, gaps to the
expected path and to the category's best, deductions, and the indicators that would lift its rank most for the least
change. Tables: units.csv, leaves.csv, levers.csv, history.csv, deductions.csv, diagnosis.xlsx.</p>
<ul>{links}</ul><div class='wrap'>{table}</div></body></html>
""", "index.html")
    return [Path(out) / n for n in files.names]
