"""A batch's report: ``index.html`` (findings first), ``jobs.html`` (the run log) and
``results.xlsx`` (the results in the form a city office publishes).

``index.html`` is the report (Chinese first, a language switch on the page): it opens with
the sections of :mod:`perfsim.report.index_report` (the base ranking, who gains and who
loses, grade transitions, every scenario's validity, a unit search, every page), then one
card per scenario that has a base to compare with: the
headline in Chinese and English, the key numbers, two or three figures at a readable
size and links to the code-free report, the full notebook, ``findings.md`` and the live
explorer at that scenario. Then one
table compares all scenarios (the scheme's labels, integers as integers, grades in their
order, the validity change with its interval where an ensemble was run), then each
scenario's declared change as YAML. Every link is relative, so the folder can be moved or
handed on; the page does not overflow at 1280 px. ``--lang en`` gives English first.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..core.files import atomic_write_text, write_with
from ..core.scheme import Grading
from ..sources.xlsx import fit_to_page

SCORES = ("scoring", "tables", "scores.csv")
#: the comparison notebook's rank agreement with the base (its last row: all units)
SUMMARY = ("comparison", "tables", "summary.csv")
#: notebooks whose findings.json a card shows, in order of preference
FINDINGS_FROM = ("leader_rating_reform", "comparison")
#: figures a card shows, in order of preference (notebook, figure)
CARD_FIGURES = (("comparison", "rank_shifts"), ("leader_rating_reform", "posterior_verdict"),
                ("leader_rating_reform", "validity_over_worlds"), ("leader_rating_reform", "shapley_movers"),
                ("leader_rating_reform", "sweep_rater_behaviour"))
#: a card shows at most one figure of each group (the verdict over the worlds the data allow
#: replaces the one over plausible worlds where both exist)
CARD_ALTERNATIVES = {"validity_over_worlds": "posterior_verdict"}
DEFAULT_GRADES = list(Grading.model_fields["grades"].default)

CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 1.5em auto; max-width: 1220px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; font-size: 0.92em; }
.card { border: 1px solid #ccd; border-radius: 6px; padding: 0.8em 1.1em; margin: 1em 0; background: #fbfbfe; }
.card h3 { margin: 0.1em 0 0.4em 0; }
.headline { font-size: 1.08em; font-weight: 600; } .en { color: #555; font-size: 0.95em; }
.numbers { display: flex; flex-wrap: wrap; gap: 0.6em 1.6em; margin: 0.6em 0; font-size: 0.95em; }
.numbers b { font-size: 1.15em; }
.figs { display: flex; flex-wrap: wrap; gap: 10px; }
.figs a img { width: 380px; max-width: 100%; border: 1px solid #ddd; }
.verdict-helps { color: #0a6b2d; font-weight: 600; } .verdict-hurts { color: #a01818; font-weight: 600; }
.verdict-undetermined { color: #7a5a00; font-weight: 600; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 3px 5px; vertical-align: top; }
th { background: #eef; word-break: keep-all; } td.num { text-align: right; white-space: nowrap; }
tr.failed td { background: #fde2e2; } td.err { color: #a00; font-family: monospace; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 0.5em; font-size: 0.85em; white-space: pre-wrap; margin: 0; }
"""

#: where ``perfsim explore`` listens by default (each scenario card links to it)
EXPLORER_URL = "http://127.0.0.1:5006/"

TEXT = {
    "zh": {"title": "绩效方案比较报告", "findings": "结论", "compare": "方案比较", "changes": "各方案声明的改动",
           "jobs": "运行记录", "report": "报告", "notebook": "笔记本（含代码）", "md": "结论文本",
           "moved": "排名变化", "grades": "等次变化", "largest": "最大变动（位）", "validity": "效度变化（τ）",
           "no_findings": "没有可比较的方案：每个方案都与其基准方案比较，基准方案自身不单独成卡。",
           "synthetic": "数据为合成数据（SYNTHETIC），不代表任何真实城市。",
           "files": "文件", "xlsx": "结果表（Excel）",
           "explore": "在探索器中打开此方案（先在本机运行 perfsim explore）"},
    "en": {"title": "Performance scheme comparison", "findings": "Findings", "compare": "Scenarios compared",
           "changes": "Declared changes", "jobs": "Run log", "report": "report", "notebook": "notebook (with code)",
           "md": "findings text", "moved": "units that change rank", "grades": "grade changes",
           "largest": "largest move (ranks)", "validity": "validity change (tau)",
           "no_findings": "No scenario has a base in this batch to compare with.",
           "synthetic": "The data are SYNTHETIC: no real city is described.",
           "files": "Files", "xlsx": "results workbook (Excel)",
           "explore": "open this scenario in the explorer (start perfsim explore on this machine first)"},
}
COLUMNS = {  # column: (zh, en)
    "scenario": ("方案", "scenario"), "units": ("单位数", "units"), "mean_total": ("平均总分", "mean total"),
    "range": ("总分范围", "range of totals"), "vetoes": ("一票否决", "vetoes"),
    "base": ("基准方案", "base"), "tau_vs_base": ("与基准的τ", "tau vs base"),
    "mean_abs_shift": ("平均名次变化", "mean |rank change|"), "grade_changes": ("等次变化", "grade changes"),
    "validity": ("效度变化τ", "validity change of tau, 90 % interval"),
}


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _rel(root: Path, target: Path) -> str:
    return html.escape(target.relative_to(root).as_posix())


def _head(key: str, lang: str) -> str:
    from .plotting import GLOSSARY

    zh, en = COLUMNS.get(key, (key, GLOSSARY.get(key, key)))
    return f"<span class='l-zh'>{_h(zh)}</span><span class='l-en'>{_h(en)}</span>"   # the page's switch shows one


def _scenario_facts(root: Path, manifest: dict) -> list[dict[str, Any]]:
    """Per scenario: its facts, scores table, base, resolved scheme and findings (if any)."""
    out = []
    by_file = {s["file"]: s["name"] for s in manifest["scenarios"]}
    for facts in manifest["scenarios"]:
        name = facts["name"]
        folder = root / name
        stored = folder / "scenario.json"
        resolved = json.loads(stored.read_text(encoding="utf-8")).get("resolved") if stored.exists() else None
        scores = folder / Path(*SCORES)
        found = None
        for nb in FINDINGS_FROM:
            path = folder / nb / "tables" / "findings.json"
            if path.exists():
                found = (nb, json.loads(path.read_text(encoding="utf-8")))
                break
        out.append({**facts, "folder": folder, "resolved": resolved,
                    "scores": pd.read_csv(scores) if scores.exists() else None,
                    "base_name": by_file.get(facts.get("base")), "findings": found})
    return out


def _grades(resolved: dict | None) -> list[str]:
    return list(((resolved or {}).get("grading") or {}).get("grades") or DEFAULT_GRADES)


def comparison_table(root: Path, manifest: dict, facts: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per scenario: scores summary, grade counts in the scheme's grade order, and
    against its base (in the batch) the rank agreement, rank and grade changes and, where an
    ensemble was run, the validity change. ``facts``: :func:`_scenario_facts`, when read already."""
    facts = _scenario_facts(root, manifest) if facts is None else facts
    tables = {f["name"]: f["scores"] for f in facts}
    grades: list[str] = []
    for f in facts:
        grades += [g for g in _grades(f["resolved"]) if g not in grades]
    rows = []
    for f in facts:
        row: dict[str, Any] = {"scenario": f["name"]}
        table = f["scores"]
        if table is not None:
            row.update(units=len(table), mean_total=table["total"].mean(),
                       range=f"{table['total'].min():.1f}–{table['total'].max():.1f}", vetoes=int(table["veto"].sum()))
            counts = table["grade"].value_counts()
            row.update({g: int(counts.get(g, 0)) for g in grades})
        base = tables.get(f["base_name"]) if f["base_name"] else None
        if table is not None and base is not None:
            overall = _overall_shift(f["folder"] / Path(*SUMMARY), base, table)
            row.update(base=f["base_name"], tau_vs_base=overall["kendall_tau"],
                       mean_abs_shift=overall["mean_abs_shift"], grade_changes=int(overall["grade_changes"]))
        v = validity_of(f["findings"][1] if f["findings"] else None)
        if v:
            row["validity"] = (f"{v['median']:+.3f} [{v['q05']:+.3f}, {v['q95']:+.3f}] {v['verdict']} "
                               f"({_validity_words(v, 'en')})")
        rows.append(row)
    frame = pd.DataFrame(rows)
    order = ["scenario", "base", "units", "mean_total", "range", *grades, "vetoes", "tau_vs_base", "mean_abs_shift",
             "grade_changes", "validity"]
    return frame[[c for c in order if c in frame.columns]]


def _overall_shift(summary: Path, base: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """The all-units row of the rank comparison with the base: read from the comparison
    notebook's summary when the batch ran it, else computed from the two score tables."""
    from ..analyses.compare import rank_shifts, summarise

    if summary.exists():
        row = pd.read_csv(summary, encoding="utf-8-sig").iloc[-1]
        if row["category"] == "overall" and row["n"] == len(table):
            return row
    return summarise(rank_shifts(base, table)).iloc[-1]


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "<td></td>"
    if column in ("mean_total",):
        return f"<td class='num'>{value:.2f}</td>"
    if column in ("tau_vs_base", "mean_abs_shift"):
        return f"<td class='num'>{value:.3f}</td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"<td class='num'>{int(value)}</td>"
    if column == "validity":
        median, rest = str(value).split(" ", 1)
        interval, verdict = rest.rsplit(" ", 1)
        return (f"<td class='verdict-{_h(verdict)}'>{_h(median)} {_h(verdict)}<br>"
                f"<span class='en'>{_h(interval)}</span></td>")
    return f"<td>{_h(value)}</td>"


def _table_html(frame: pd.DataFrame, lang: str) -> str:
    head = "".join(f"<th>{_head(c, lang)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell(c, row[c]) for c in frame.columns) + "</tr>"
                   for _, row in frame.iterrows())
    return f"<div class='wrap'><table><tr>{head}</tr>{body}</table></div>"


def validity_of(found: dict | None) -> dict | None:
    """The validity verdict a scenario's findings carry: the one over the worlds the data allow
    (``posterior``, with its probabilities) where it was computed, else the one over plausible
    worlds (``validity``); ``source`` says which."""
    if not found:
        return None
    if found.get("posterior"):
        return {**found["posterior"], "source": "posterior"}
    if found.get("validity"):
        return {**found["validity"], "source": "plausible"}
    return None


def _validity_words(v: dict, lang: str) -> str:
    zh = lang == "zh"
    p = (f"P(>0) {v['p_helps']:.2f}, P(<0) {v['p_hurts']:.2f}" if "p_helps" in v else "")
    if v["source"] == "posterior":
        where = (f"数据所允许的世界：{v['worlds']} 个参考世界中保留 {v['accepted']} 个" if zh else
                 f"worlds the data allow: {v['accepted']} of {v['worlds']} reference worlds")
    else:
        where = f"{v['worlds']} {'个合成世界（假设固定）' if zh else 'synthetic worlds (fixed assumptions)'}"
    return f"{p}; {where}" if p else where


def _card(root: Path, f: dict, lang: str) -> str:
    nb, found = f["findings"]
    t = TEXT[lang]
    n, v = found["numbers"], validity_of(found)
    first, second = ("zh", "en") if lang == "zh" else ("en", "zh")
    figures = []
    for notebook, figure in CARD_FIGURES:
        path = f["folder"] / notebook / "figures" / f"{figure}.png"
        better = CARD_ALTERNATIVES.get(figure)
        if better and (f["folder"] / notebook / "figures" / f"{better}.png").exists():
            continue
        if path.exists() and len(figures) < 3:
            figures.append(f"<a href='{_rel(root, path)}'><img src='{_rel(root, path)}' alt='{_h(figure)}'></a>")
    links = []
    for notebook in (nb, "comparison", "leader_rating_reform"):
        report = f["folder"] / notebook / f"{notebook}.report.html"
        if report.exists() and notebook not in [x[0] for x in links]:
            links.append((notebook, f"<a href='{_rel(root, report)}'>{t['report']}: {_h(notebook)}</a>"))
    full = f["folder"] / nb / f"{nb}.html"
    md = f["folder"] / nb / "tables" / "findings.md"
    extra = [f"<a href='{_rel(root, full)}'>{t['notebook']}</a>" if full.exists() else "",
             f"<a href='{_rel(root, md)}'>{t['md']}</a>" if md.exists() else ""]
    extra.append(f"<a class='explore' href='{EXPLORER_URL}?scenario={quote(str(found['scenario']))}'>"
                 f"{t['explore']}</a>")
    validity = ""
    if v:
        word = VERDICT_ZH.get(v["verdict"], v["verdict"]) if lang == "zh" else v["verdict"]
        validity = (f"<span>{t['validity']}: <b class='verdict-{_h(v['verdict'])}'>{v['median']:+.3f}</b> "
                    f"[{v['q05']:+.3f}, {v['q95']:+.3f}], {_h(word)} ({_h(_validity_words(v, lang))})</span>")
    return f"""<div class="card"><h3>{_h(found['scenario'])} <span class='en'>vs {_h(found['base'])}</span></h3>
<div class="headline">{_h(found['headline'][first])}</div><div class="en">{_h(found['headline'][second])}</div>
<div class="numbers"><span>{t['moved']}: <b>{n['moved']}</b> / {n['units']}</span>
<span>{t['largest']}: <b>{n['largest_up']}</b> ↑ <b>{n['largest_down']}</b> ↓</span>
<span>{t['grades']}: <b>{n['grade_changes']}</b></span>{validity}</div>
<div class="figs">{''.join(figures)}</div>
<p>{' · '.join([l for _, l in links] + [e for e in extra if e])}</p></div>"""


def write_index(root: Path, manifest: dict, lang: str = "zh") -> Path:
    """index.html, jobs.html and results.xlsx of a batch folder (see the module docstring)."""
    root = Path(root)
    t = TEXT[lang]
    facts = _scenario_facts(root, manifest)
    cards = [_card(root, f, lang) for f in facts if f["findings"]]
    comparison = comparison_table(root, manifest, facts)
    changes = []
    import yaml

    for f in facts:
        diff = f.get("diff")
        text = yaml.safe_dump({k: v for k, v in diff.items() if k != "name"}, allow_unicode=True, sort_keys=False) \
            if diff else "(scheme)"
        status = f"<td class='err'>{_h(f['error'])}</td>" if f.get("error") else "<td></td>"
        changes.append(f"<tr class='{'failed' if f.get('error') else ''}'><td>{_h(f['name'])}</td>"
                       f"<td>{_h(f['file'])}</td><td><pre>{_h(text)}</pre></td>{status}</tr>")
    n_failed = sum(1 for j in manifest["jobs"] if j["status"] == "failed")
    synthetic = manifest.get("data") == "bundled synthetic world"
    xlsx = write_results_workbook(root, manifest, facts, comparison)
    readable = write_readable_tables(root, manifest, facts, comparison)
    from . import index_report as ir

    validity = {f["name"]: validity_of(f["findings"][1] if f["findings"] else None) for f in facts}
    report, numbers = ir.report_sections(root, manifest, facts, validity)
    atomic_write_text(root / "figures" / "index_numbers.json", json.dumps(numbers, ensure_ascii=False, indent=1,
                                                                          default=str))
    zh, en = TEXT["zh"], TEXT["en"]

    def both(key: str) -> str:
        return ir.both(_h(zh[key]), _h(en[key]))

    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t['title']} · {_h(manifest['batch'])}</title><style>{CSS}{ir.CSS}</style></head>
<body class="{'lang-en' if lang == 'en' else ''}">
{ir.SWITCH}
<h1>{both('title')}: <code>{_h(manifest['batch'])}</code></h1>
<p class="meta">{len(manifest['scenarios'])} scenarios, {len(manifest['jobs'])} jobs ({n_failed} failed) ·
data: {_h(manifest['data'])} (sha256 {_h(manifest['data_hash'][:12])}) · seed {manifest['seed']} ·
perfsim {_h(manifest['perfsim_version'])}, commit {_h(str(manifest.get('git_commit'))[:10])} · {_h(manifest['created'])}
{('<br><b>' + both('synthetic') + '</b>') if synthetic else ''}</p>
<p>{both('files')}: <a href="jobs.html">{both('jobs')}</a> · <a href="{_h(xlsx.name)}">{both('xlsx')}</a> ·
{' · '.join(f'<a href="readable/{_h(p.name)}">{_h(p.name)}</a>' for p in readable)} ·
<a href="manifest.json">manifest.json</a></p>
{report}
<h2>{both('findings')}</h2>
{''.join(cards) or '<p>' + both('no_findings') + '</p>'}
<h2>{both('compare')}</h2>
{_table_html(comparison, lang)}
<h2>{both('changes')}</h2>
<div class='wrap'><table><tr><th>{_head('scenario', lang)}</th><th>file</th><th>diff</th><th>error</th></tr>
{''.join(changes)}</table></div>
{ir.SEARCH}
</body></html>
"""
    write_jobs(root, manifest, lang)
    return atomic_write_text(root / "index.html", page)


def write_jobs(root: Path, manifest: dict, lang: str = "zh") -> Path:
    """jobs.html: every job's status, time, outputs and error; links relative."""
    rows = []
    for job in manifest["jobs"]:
        folder = root / job["scenario"] / job["notebook"]
        links = []
        for name, text in ((f"{job['notebook']}.report.html", "report"), (f"{job['notebook']}.html", "html"),
                           (f"{job['notebook']}.ipynb", "ipynb"), ("job.json", "job.json")):
            if (folder / name).exists():
                links.append(f"<a href='{_rel(root, folder / name)}'>{text}</a>")
        tables = sorted((folder / "tables").glob("*.csv")) if folder.exists() else []
        links += [f"<a href='{_rel(root, p)}'>{_h(p.stem)}</a>" for p in tables]
        status = "cached" if job.get("cached") else job["status"]
        if job.get("skipped_analyses"):
            status += "; skipped: " + ", ".join(s["analysis"] for s in job["skipped_analyses"])
        timings = job.get("timings") or {}
        cells = timings.get("cells")
        rows.append(f"<tr class='{_h(job['status'])}'><td>{_h(job['scenario'])}</td><td>{_h(job['notebook'])}</td>"
                    f"<td>{_h(status)}</td><td class='num'>{job.get('seconds', 0):.1f}</td>"
                    f"<td class='num'>{'' if cells is None else f'{cells:.1f}'}</td>"
                    f"<td>{' '.join(links)}</td><td class='err'>{_h(job.get('error') or job.get('reason') or '')}"
                    + "".join(f"<br>{_h(s['analysis'])}: {_h(s['reason'])}" for s in job.get("skipped_analyses", ()))
                    + (f"<br>note: {_h(job['kernel_note'])}" if job.get("kernel_note") else "")
                    + "</td>"
                    f"<td><code>{_h((job.get('key') or '')[:10])}</code></td></tr>")
    page = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{TEXT[lang]['jobs']} · {_h(manifest['batch'])}</title>
<style>{CSS}</style></head><body>
<p><a href="index.html">← index</a></p>
<h1>{TEXT[lang]['jobs']}: <code>{_h(manifest['batch'])}</code></h1>
<p class="meta">executor: {_h(manifest.get('executor'))} · code {_h(manifest.get('code_hash', '')[:12])} ·
phases (s): {_h(json.dumps(manifest.get('phases', {})))}</p>
<div class='wrap'><table><tr><th>scenario</th><th>notebook</th><th>status</th><th>seconds</th><th>cells s</th>
<th>outputs</th><th>error</th><th>key</th></tr>{''.join(rows)}</table></div></body></html>
"""
    return atomic_write_text(root / "jobs.html", page)


# --------------------------------------------------------------------------- Excel

HEAD = {"unit_id": ("单位编号", "unit id"), "name": ("单位", "unit"), "category": ("类别", "category"),
        "total": ("总分", "total"), "rank": ("排名", "rank"), "grade": ("等次", "grade"),
        "bonus": ("加分", "bonus"), "deduction": ("减分", "deduction"), "veto": ("一票否决", "veto")}


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "sheet"
    out, k = clean, 1
    while out in used:
        k += 1
        out = f"{clean[:28]}_{k}"
    used.add(out)
    return out


VERDICT_ZH = {"helps": "有助于", "hurts": "有损于", "undetermined": "不确定"}
#: the comparison sheet's columns: (zh, en, number format or None)
COMPARISON_XLSX = {
    "scenario": ("方案", "scenario", None), "base": ("基准方案", "base", None), "units": ("单位数", "units", "0"),
    "mean_total": ("平均总分", "mean total", "0.00"), "min_total": ("最低总分", "lowest total", "0.00"),
    "max_total": ("最高总分", "highest total", "0.00"), "vetoes": ("一票否决数", "vetoes", "0"),
    "tau_vs_base": ("与基准排名一致性τ", "Kendall tau with the base ranking", "0.000"),
    "mean_abs_shift": ("平均名次变化", "mean absolute rank change", "0.00"),
    "grade_changes": ("等次变化单位数", "units whose grade changes", "0"),
    "validity_median": ("效度变化τ中位数", "validity change (tau), median", "+0.000;-0.000;0.000"),
    "validity_q05": ("效度变化5%分位", "validity change, 5th percentile", "+0.000;-0.000;0.000"),
    "validity_q95": ("效度变化95%分位", "validity change, 95th percentile", "+0.000;-0.000;0.000"),
    "verdict": ("效度判断", "verdict (helps, hurts, undetermined)", None),
    "validity_p_helps": ("效度提高的概率", "P(validity change > 0)", "0.00"),
    "validity_p_hurts": ("效度降低的概率", "P(validity change < 0)", "0.00"),
    "validity_source": ("效度判断所依据的世界", "worlds the verdict is judged over", None),
}


def _display_width(value: Any) -> int:
    """Characters a cell needs in Excel (a CJK character takes two)."""
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text)


def _table_sheet(ws, header: list[str], rows: list[list[Any]], formats: list[str | None], freeze: str) -> None:
    """One table on a sheet as Excel's own tools want it: a single bold header row, values
    as numbers with a number format, an autofilter over the table, the header frozen and
    columns as wide as their contents."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(header)
    for row in rows:
        ws.append([None if (isinstance(v, float) and not np.isfinite(v)) else v for v in row])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE3F0")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=False)
    n = len(rows)
    centre = Alignment(horizontal="center")
    for k, fmt in enumerate(formats, start=1):
        letter = get_column_letter(k)
        if fmt:
            for r in range(2, n + 2):
                ws.cell(row=r, column=k).number_format = fmt
        elif rows and all(isinstance(row[k - 1], str) and len(row[k - 1]) <= 4 for row in rows if row[k - 1]):
            for r in range(2, n + 2):           # short labels (grades, 是/否) centred, apart from the numbers
                ws.cell(row=r, column=k).alignment = centre
        widest = max([_display_width(header[k - 1])] + [_display_width(row[k - 1]) for row in rows
                                                          if row[k - 1] is not None])
        ws.column_dimensions[letter].width = min(60, widest + 3)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{n + 1}"
    ws.freeze_panes = freeze
    fit_to_page(ws)


def ranking_table(f: dict[str, Any]) -> tuple[list[tuple[str, str]], list[list[Any]], list[str | None]]:
    """One scenario's results as an office publishes them: (zh, en) column names, rows
    (categories by the scheme's labels, ordered by category then rank) and number formats."""
    table = f["scores"]
    resolved = f["resolved"] or {}
    comps = [c for c in table.columns if c not in HEAD]
    children = (resolved.get("tree") or {}).get("children") or {}
    labels = {c: (children.get(c, {}).get("label") or c, children.get(c, {}).get("label_en") or c) for c in comps}
    cats = resolved.get("category_labels") or {}
    columns = ["unit_id", "name", "category", "total", "rank", "grade", *comps, "bonus", "deduction", "veto"]
    names = [HEAD.get(c, labels.get(c, (c, c))) for c in columns]
    ordered = table.sort_values(["category", "rank", "unit_id"], kind="stable")
    rows = []
    for row in ordered[columns].itertuples(index=False):
        values = []
        for c, v in zip(columns, row):
            if c == "veto":
                v = "是" if v else "否"
            elif c == "category":
                v = cats.get(v, v)
            elif c == "rank":
                v = int(v)
            elif isinstance(v, (np.floating, float)):
                v = float(v)
            elif isinstance(v, np.integer):
                v = int(v)
            values.append(v)
        rows.append(values)
    formats = [None, None, None, "0.00", "0", None, *["0.00"] * len(comps), "0.00", "0.00", None]
    return names, rows, formats


def comparison_rows(comparison: pd.DataFrame, facts: list[dict[str, Any]]
                    ) -> tuple[list[tuple[str, str]], list[list[Any]], list[str | None]]:
    """The scenario comparison with every number a number: the range of totals as lowest
    and highest, the validity change as median, 5 % and 95 % quantiles and a Chinese verdict."""
    frame = comparison.copy()
    if "range" in frame:          # the range of totals, from the scores themselves (not the text)
        scores = {f["name"]: f["scores"] for f in facts if f["scores"] is not None}
        frame["min_total"] = [float(scores[n]["total"].min()) if n in scores else np.nan for n in frame["scenario"]]
        frame["max_total"] = [float(scores[n]["total"].max()) if n in scores else np.nan for n in frame["scenario"]]
    if "validity" in frame:
        found = {f["name"]: validity_of(f["findings"][1] if f["findings"] else None) for f in facts}
        for key, column in (("median", "validity_median"), ("q05", "validity_q05"), ("q95", "validity_q95")):
            frame[column] = [float((found.get(n) or {}).get(key, np.nan)) for n in frame["scenario"]]
        frame["verdict"] = [VERDICT_ZH.get((found.get(n) or {}).get("verdict"), "") for n in frame["scenario"]]
        for key in ("p_helps", "p_hurts"):
            frame[f"validity_{key}"] = [float((found.get(n) or {}).get(key, np.nan)) for n in frame["scenario"]]
        frame["validity_source"] = [{"posterior": "数据所允许的世界（后验）", "plausible": "假设固定的合成世界"}.get(
            (found.get(n) or {}).get("source"), "") for n in frame["scenario"]]
    grades = [c for c in comparison.columns if c not in COMPARISON_XLSX and c not in ("range", "validity")]
    order = [c for c in ("scenario", "base", "units", "mean_total", "min_total", "max_total") if c in frame]
    order += grades + [c for c in ("vetoes", "tau_vs_base", "mean_abs_shift", "grade_changes", "validity_median",
                                   "validity_q05", "validity_q95", "verdict", "validity_p_helps",
                                   "validity_p_hurts", "validity_source") if c in frame]
    names = [COMPARISON_XLSX.get(c, (f"{c}（单位数）", f"units graded {c}", "0"))[:2] for c in order]
    formats = [COMPARISON_XLSX.get(c, (None, None, "0"))[2] for c in order]
    rows = []
    for _, row in frame[order].iterrows():
        values = []
        for c in order:
            v = row[c]
            if v is None or (isinstance(v, float) and pd.isna(v)):
                values.append(None)
            elif isinstance(v, np.integer):
                values.append(int(v))
            elif isinstance(v, np.floating):
                values.append(float(v))
            else:
                values.append(v)
        rows.append(values)
    return names, rows, formats


def _rounded(rows: list[list[Any]], formats: list[str | None]) -> list[list[Any]]:
    """Values as a reader sees them: numbers rounded to their format's decimals."""
    out = []
    for row in rows:
        cells = []
        for v, fmt in zip(row, formats):
            if isinstance(v, float) and fmt:
                decimals = len(fmt.split(";")[0].split(".")[1]) if "." in fmt else 0
                v = round(v, decimals) if decimals else int(round(v))
            cells.append(v)
        out.append(cells)
    return out


def write_readable_tables(root: Path, manifest: dict, facts: list[dict[str, Any]] | None = None,
                          comparison: pd.DataFrame | None = None) -> list[Path]:
    """``readable/``: the rankings (``ranking_<scenario>.csv``) and the comparison
    (``comparison.csv``) for people opening them in Excel: Chinese headers, the scheme's
    category labels, values rounded as results.xlsx shows them (2 decimals for points, 3
    for tau), UTF-8 with a BOM. The full-precision tables programs read stay where the
    notebooks wrote them."""
    from ..core.files import OutputSet

    facts = _scenario_facts(root, manifest) if facts is None else facts
    comparison = comparison_table(root, manifest, facts) if comparison is None else comparison
    with OutputSet(root / "readable") as outputs:
        for f in facts:
            if f["scores"] is None:
                continue
            names, rows, formats = ranking_table(f)
            outputs.csv(pd.DataFrame(_rounded(rows, formats), columns=[n[0] for n in names], dtype=object),
                        f"ranking_{f['name']}.csv")
        names, rows, formats = comparison_rows(comparison, facts)
        outputs.csv(pd.DataFrame(_rounded(rows, formats), columns=[n[0] for n in names], dtype=object),
                    "comparison.csv")
    return [root / "readable" / n for n in outputs.names]


def write_results_workbook(root: Path, manifest: dict, facts: list[dict[str, Any]] | None = None,
                           comparison: pd.DataFrame | None = None) -> Path:
    """results.xlsx, made for Excel's own filter, sort and pivot tables: one sheet per
    scenario as an office publishes results (单位编号, 单位, 类别, 总分, 排名, 等次, then
    component points, 加分, 减分, 一票否决; see :func:`ranking_table`), one Chinese header
    row, numbers stored as numbers with formats, an autofilter and a frozen header on every
    table, columns as wide as their contents; a sheet comparing the scenarios
    (:func:`comparison_rows`) and a 说明 sheet with the batch's facts and every column's
    English name. The same results give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from ..sources.readers import stable_workbook

    wb = Workbook()
    notes = wb.active
    notes.title = "说明"
    facts = _scenario_facts(root, manifest) if facts is None else facts
    used = {notes.title}
    glossary: list[list[str]] = []
    for f in facts:
        if f["scores"] is None:
            continue
        names, rows, formats = ranking_table(f)
        sheet = _sheet_name(f["name"], used)
        _table_sheet(wb.create_sheet(sheet), [n[0] for n in names], rows, formats, "C2")
        glossary += [[sheet, zh, en] for zh, en in names]
    comparison = comparison_table(root, manifest, facts) if comparison is None else comparison
    names, rows, formats = comparison_rows(comparison, facts)
    _table_sheet(wb.create_sheet(_sheet_name("比较", used)), [n[0] for n in names], rows, formats, "B2")
    glossary += [["比较", zh, en] for zh, en in names]
    notes.append(["perfsim 结果表"])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append(["批次 batch", manifest["batch"]])
    notes.append(["数据 data", manifest["data"]])
    notes.append(["种子 seed", manifest["seed"]])
    notes.append(["版本 perfsim", manifest["perfsim_version"]])
    notes.append(["说明", "每个方案一张表，另有一张方案比较表；每张表一行中文表头，可直接筛选、排序和做数据透视表。"
                        "下表列出各列的英文名。"])
    if manifest.get("data") == "bundled synthetic world":
        notes.append(["合成数据 SYNTHETIC", "数据为合成数据，不代表任何真实城市。 The data are synthetic."])
    notes.append([])
    start = notes.max_row + 1
    notes.append(["工作表", "列", "英文名 (English)"])
    scenario_sheets = {r[0] for r in glossary if r[0] != "比较"}
    where: dict[tuple[str, str], list[str]] = {}
    for sheet, zh, en in glossary:
        where.setdefault((zh, en), []).append(sheet)
    for (zh, en), sheets in where.items():       # each column once, with the sheets that have it
        said = ("各方案表 (every scenario sheet)" if set(sheets) == scenario_sheets and len(scenario_sheets) > 1
                else "、".join(sheets))
        notes.append([said, zh, en])
    for cell in notes[start]:
        cell.font = Font(bold=True)
    notes.auto_filter.ref = f"A{start}:C{notes.max_row}"
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 24, 40
    notes.column_dimensions["C"].width = 44
    from openpyxl.styles import Alignment

    for row in notes.iter_rows(min_row=2, max_row=start - 1):
        for cell in row[1:2]:
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
    fit_to_page(notes, None)
    wb.properties.creator = wb.properties.lastModifiedBy = "perfsim"
    raw = io.BytesIO()
    wb.save(raw)
    data = stable_workbook(raw.getvalue())        # the same results, the same bytes
    path = root / "results.xlsx"
    write_with(path, lambda tmp: Path(tmp).write_bytes(data))
    return path
