"""The part of a batch's index.html that is the report: what an office reads first.

:func:`report_sections` returns the HTML of, in order: the base scheme's ranking (totals by
category, coloured by grade); who gains and who loses under every scenario (mean change of
total by unit type: central districts, outer districts, each department category; units
up and down a grade); each scenario's grade transition matrix; all scenarios' validity
effects with their intervals in one chart; what every analysis found for the base scheme
(each notebook's ``conclusion.json``, linked to its page); a search box that finds any unit (its rank and
grade under every scheme, with a link to its diagnosis page); and a link to every page the
batch made. Every number is computed from the batch's own tables (each scenario's
``scoring/tables/scores.csv``) with :mod:`perfsim.analyses.explore`, the functions the live
explorer uses; the figures are saved under ``figures/`` of the batch folder.

Text is written in both languages (``<span class="l-zh">`` and ``<span class="l-en">``);
the page's switch shows one of them (:data:`SWITCH`), Chinese first.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..analyses.explore import grade_transitions, winners_losers
from .plotting import GLOSSARY, label, setup_fonts

GROUP_NAMES = {"central district": ("中心城区", "Central districts"), "outer district": ("远城区", "Outer districts")}
VERDICT_WORDS = {"helps": ("提高效度", "helps"), "hurts": ("降低效度", "hurts"), "undetermined": ("尚不能确定", "undetermined")}
#: grade colours, best first (green to red)
GRADE_COLOURS = ["#1a9850", "#91cf60", "#9ecae1", "#d73027", "#fc8d59", "#fee08b"]
#: the notebook whose page diagnoses one unit
DIAGNOSIS = "results_use"

SWITCH = """<div class="langs"><button type="button" data-lang="zh" class="on">中文</button>
<button type="button" data-lang="en">English</button></div>
<script>
(function () {
  function show(lang) {
    document.body.classList.toggle('lang-en', lang === 'en');
    document.documentElement.lang = lang;
    document.querySelectorAll('.langs button').forEach(function (b) {
      b.classList.toggle('on', b.getAttribute('data-lang') === lang); });
  }
  document.querySelectorAll('.langs button').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-lang')); }); });
  var q = (location.hash.match(/lang=(zh|en)/) || [])[1];
  if (q) { show(q); }
})();
</script>"""
SEARCH = """<script>
(function () {
  var box = document.getElementById('unit-search');
  if (!box) { return; }
  box.addEventListener('input', function () {
    var q = box.value.trim().toLowerCase(), shown = 0;
    document.querySelectorAll('#unit-table tbody tr').forEach(function (tr) {
      var hit = !q || tr.getAttribute('data-search').toLowerCase().indexOf(q) >= 0;
      tr.style.display = hit ? '' : 'none'; if (hit) { shown += 1; } });
    document.getElementById('unit-count').textContent = shown;
  });
})();
</script>"""
CSS = """
.l-en { display: none; } body.lang-en .l-en { display: inline; } body.lang-en .l-zh { display: none; }
body.lang-en div.l-en, body.lang-en p.l-en { display: block; }
.langs { position: fixed; top: 0.6em; right: 1em; background: #fff; border: 1px solid #ccd; border-radius: 4px; }
.langs button { border: 0; background: #fff; padding: 0.3em 0.8em; cursor: pointer; font: inherit; }
.langs button.on { background: #335; color: #fff; }
.fig img { max-width: 100%; border: 1px solid #ddd; }
.matrices { display: flex; flex-wrap: wrap; gap: 1em 2em; }
td.links { white-space: nowrap; }
#unit-search { font: inherit; padding: 0.3em 0.5em; width: 22em; max-width: 90%; }
.tablebox { overflow: auto; max-height: 32em; }
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def both(zh: str, en: str, tag: str = "span") -> str:
    """A text in both languages; the page's switch shows one."""
    return f'<{tag} class="l-zh">{zh}</{tag}><{tag} class="l-en">{en}</{tag}>'


def _rel(root: Path, path: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def group_names(units: pd.DataFrame, category_labels: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The (zh, en) name of every group winners and losers are counted in."""
    from ..sources.synth import category_names_en

    english = category_names_en()
    out = dict(GROUP_NAMES)
    for code in units["category"].unique():
        zh = category_labels.get(code, code)
        out[str(code)] = (zh, english.get(code) or GLOSSARY.get(zh, str(code).replace("_", " ")))
    return out


def _grades_of(resolved: Mapping[str, Any] | None) -> list[str]:
    grades = ((resolved or {}).get("grading") or {}).get("grades")
    return list(grades) if grades else ["优秀", "良好", "达标", "不达标"]


def _pyplot():
    """pyplot without a screen (the batch draws the index's figures), with a CJK font first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setup_fonts()
    return plt


def _save(fig, path: Path, dpi: int) -> Path:
    """Write a figure as PNG (all or nothing) and close it."""
    import matplotlib.pyplot as plt

    from ..core.files import write_with

    written = write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight",
                                                       metadata={"Software": None}))
    plt.close(fig)
    return written


def baseline_figure(scores: pd.DataFrame, grades: Sequence[str], category_labels: Mapping[str, str], path: Path
                    ) -> Path:
    """Totals by category (one panel each, units by rank), bars coloured by grade."""
    from matplotlib.patches import Patch

    plt = _pyplot()
    cats = list(dict.fromkeys(scores.sort_values("category")["category"]))
    ncol = 3
    nrow = -(-len(cats) // ncol)
    tallest = max(int((scores["category"] == c).sum()) for c in cats)
    fig, axes = plt.subplots(nrow, ncol, figsize=(15, nrow * (0.22 * tallest + 1.2)), squeeze=False)
    colour = {g: GRADE_COLOURS[i % len(GRADE_COLOURS)] for i, g in enumerate(grades)}
    low = float(scores["total"].min())
    for ax, cat in zip(axes.flat, cats):
        g = scores[scores["category"] == cat].sort_values(["rank", "unit_id"])
        y = np.arange(len(g))
        ax.barh(y, g["total"], color=[colour.get(x, "#999999") for x in g["grade"]])
        ax.set_yticks(y, [label(str(n)) for n in g["name"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(max(0.0, low - 5), float(scores["total"].max()) + 1)
        ax.set_title(label(f"{category_labels.get(cat, cat)}（{len(g)} 个单位 units）"), fontsize=10)
        ax.set_xlabel(label("总分 total"), fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(cats):]:
        ax.set_visible(False)
    fig.legend(handles=[Patch(color=colour[g], label=label(g)) for g in grades], loc="upper center",
               ncol=len(grades), frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(label("基准方案：各类别总分与等次 Base scheme: totals and grades by category"), y=1.03)
    fig.tight_layout()
    return _save(fig, path, 90)


def winners_figure(table: pd.DataFrame, path: Path) -> Path:
    """Rows: scenarios; columns: unit types; cells: mean change of total (points), annotated."""
    plt = _pyplot()
    pivot = table.pivot(index="scenario", columns="group_zh", values="mean_total_change")
    pivot = pivot[list(dict.fromkeys(table["group_zh"]))]
    values = pivot.to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(values))) or 1.0
    fig, ax = plt.subplots(figsize=(1.25 * pivot.shape[1] + 3, 0.55 * pivot.shape[0] + 1.6))
    image = ax.imshow(values, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(pivot.shape[1]), [label(c) for c in pivot.columns], rotation=30, ha="right", fontsize=9)
    ax.set_yticks(range(pivot.shape[0]), pivot.index, fontsize=9)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label=label("平均总分变化（分） mean change of total (points)"))
    ax.set_title(label("谁得谁失：各类单位平均总分变化 Who gains: mean change of total by unit type"), fontsize=10)
    fig.tight_layout()
    return _save(fig, path, 100)


def validity_figure(rows: pd.DataFrame, path: Path) -> Path:
    """All scenarios' validity effects: median and 90 % interval, coloured by verdict."""
    from .plotting import verdict_intervals

    plt = _pyplot()
    rows = rows.sort_values("median").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.8))
    verdict_intervals(ax, rows, lw=3, size=50)
    ax.set_xlabel(label("与真实绩效的一致性（Kendall τ）变化：中位数与 90% 区间 change of tau to the truth"))
    ax.set_title(label("各方案对排名效度的影响（绿：提高，红：降低，灰：尚不能确定） validity of every scenario"),
                 fontsize=10)
    fig.tight_layout()
    return _save(fig, path, 100)


def _units(manifest: Mapping[str, Any]) -> tuple[pd.DataFrame | None, str]:
    """The batch's units table (unit types need ``district_type``), or None and why not."""
    from ..core.errors import PerfsimError
    from ..core.paths import resolve_path
    from ..sources.world import open_dataset

    from ..sources.readers import read_text_table
    from ..sources.world import data_path

    data = manifest.get("data")
    try:
        folder = data_path(None if data in (None, "", "bundled synthetic world") else resolve_path(data))
        units = folder / "units.csv"
        if folder.is_dir() and units.is_file():        # the units table alone: the batch checked the data
            table = read_text_table(units)
            if {"unit_id", "category", "district_type"} <= set(table.columns):
                return table.replace({"": None}), ""
        return open_dataset(folder).units, ""
    except (PerfsimError, OSError) as exc:
        return None, str(exc)


def changes_table(facts: Sequence[Mapping[str, Any]], units: pd.DataFrame,
                  names: Mapping[str, tuple[str, str]]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per scenario with a base in the batch: winners and losers by unit type (one row per
    scenario and group) and the grade transition matrix."""
    from ..analyses.compare import rank_shifts
    from ..core.engine import unit_type

    by_name = {f["name"]: f for f in facts}
    groups = unit_type(units)
    rows, matrices = [], {}
    for f in facts:
        base = by_name.get(f.get("base_name") or "")
        if base is None or f.get("scores") is None or base.get("scores") is None:
            continue
        grades = _grades_of(f.get("resolved"))
        shifts = rank_shifts(base["scores"], f["scores"])
        table = winners_losers(shifts, groups, grades)
        table.insert(0, "scenario", f["name"])
        table["group_zh"] = [names.get(g, (g, g))[0] for g in table["group"]]
        table["group_en"] = [names.get(g, (g, g))[1] for g in table["group"]]
        rows.append(table)
        matrices[f["name"]] = grade_transitions(shifts, grades)
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), matrices


def transition_html(matrix: pd.DataFrame, name=lambda g: g) -> str:
    """A grade transition matrix as an HTML table (rows: base grade; columns: the scenario's,
    best first): the diagonal grey, moves up green, down red. Styles are inline, so the table
    looks the same on the index and inside the explorer's panes. ``name`` labels a grade."""
    grades = list(matrix.index)
    pad = "padding:3px 8px;border:1px solid #ccc"
    head = "".join(f"<th style='{pad}'>{name(g)}</th>" for g in grades)
    rows = []
    for i, g in enumerate(grades):
        cells = []
        for j, h in enumerate(grades):
            n = int(matrix.loc[g, h])
            colour = "#eeeeee" if i == j else ("#d4efdf" if j < i else "#f5d5d1") if n else "#ffffff"
            cells.append(f"<td style='background:{colour};text-align:right;{pad}'>{n}</td>")
        rows.append(f"<tr><th style='text-align:left;{pad}'>{name(g)}</th>{''.join(cells)}</tr>")
    return (f"<table class='ps-matrix' style='border-collapse:collapse'><tr><th style='{pad}'></th>{head}</tr>"
            f"{''.join(rows)}</table>")


def _matrix_html(name: str, matrix: pd.DataFrame) -> str:
    moved = int(matrix.to_numpy().sum() - np.trace(matrix.to_numpy()))
    table = transition_html(matrix, lambda g: f"{_h(g)}<span class='l-en'> {_h(GLOSSARY.get(g, g))}</span>")
    return (f"<div><h3>{_h(name)}</h3><p>{both(f'{moved} 个单位等次变化', f'{moved} units change grade')}</p>"
            f"{table}</div>")


def _unit_rows(root: Path, facts: Sequence[Mapping[str, Any]], names: Mapping[str, tuple[str, str]]
               ) -> tuple[list[str], list[str]]:
    """The search table: one row per unit, its rank and grade under every scheme."""
    tables = [(f["name"], f["scores"].set_index("unit_id")) for f in facts if f.get("scores") is not None]
    if not tables:
        return [], []
    first = tables[0][1]
    head = [both("单位", "unit"), both("编号", "ID"), both("类别", "category")]
    head += [f"{_h(n)}<br>{both('名次 / 等次', 'rank / grade')}" for n, _ in tables]
    head.append(both("诊断", "diagnosis"))
    rows = []
    for unit in first.sort_values(["category", "rank"]).index:
        row = first.loc[unit]
        zh, en = names.get(str(row["category"]), (row["category"], row["category"]))
        cells = [f"<td>{_h(row['name'])}</td>", f"<td>{_h(unit)}</td>", f"<td>{both(_h(zh), _h(en))}</td>"]
        for _, table in tables:
            if unit in table.index:
                r = table.loc[unit]
                cells.append(f"<td class='num'>{int(r['rank'])} / {_h(r['grade'])}</td>")
            else:
                cells.append("<td></td>")
        page = next((f["folder"] / DIAGNOSIS / f"{DIAGNOSIS}.report.html" for f in facts
                     if (f["folder"] / DIAGNOSIS / f"{DIAGNOSIS}.report.html").exists()), None)
        cells.append(f"<td><a href='{_rel(root, page)}'>{both('诊断页', 'page')}</a></td>" if page else "<td></td>")
        search = f"{row['name']} {unit} {zh} {en}"
        rows.append(f"<tr data-search='{_h(search)}'>{''.join(cells)}</tr>")
    return head, rows


def rater_levers(root: Path, facts: Sequence[Mapping[str, Any]], known: set[str]
                 ) -> tuple[list[dict[str, Any]], Path | None]:
    """The rater levers the reform notebook judged over plausible worlds (its
    ``levers_effects.csv``) that are not scenarios of the batch: rows for the validity chart."""
    for f in facts:
        path = f["folder"] / "leader_rating_reform" / "tables" / "levers_effects.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, encoding="utf-8-sig")
        table = table[(table["metric"] == "delta_tau_truth") & ~table["scenario"].isin(known)]
        rows = [{"scenario": f"{r.scenario}（调节手段 lever）", "median": float(r.median), "q05": float(r.q05),
                 "q95": float(r.q95), "verdict": str(r.verdict), "source": "plausible"} for r in table.itertuples()]
        page = f["folder"] / "leader_rating_reform" / "leader_rating_reform.report.html"
        return rows, page if page.exists() else None
    return [], None


#: the notebooks whose conclusions the index shows, in the order a reader goes: (zh, en) titles
NOTEBOOK_TITLES = {
    "scoring": ("评分与排名", "Scoring and ranking"), "scheme_overview": ("方案结构与实际权重", "The scheme and its real weights"),
    "robustness": ("排名的稳健性", "How robust the ranking is"), "weightings": ("权重与指标精简", "Weights and fewer indicators"),
    "levers": ("调节手段：调查样本、类别、封顶", "Levers: survey size, categories, caps"),
    "results_use": ("结果运用：效率、问责、诊断", "Results use: efficiency, accountability, diagnosis"),
    "e_performance": ("电子绩效：月度跟踪与目标设定", "E-performance: monthly tracking and target setting"),
    "leader_rating_reform": ("市领导评价的调整", "The leader-rating reform"), "comparison": ("方案比较", "Comparison"),
}


def _first_paragraph(text: str, sentences: int = 3) -> str:
    """The first ``sentences`` sentences of a conclusion's first paragraph (the page has the rest)."""
    first = text.strip().split("\n\n")[0].replace("**", "")
    cut = re.split(r"(?<=[。；])|(?<=[.;]) (?=[A-Z'])", first)
    return "".join(cut[:sentences]) if "。" in first else " ".join(p.strip() for p in cut[:sentences])


def analysis_findings(root: Path, facts: Sequence[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Every analysis's conclusion (the ``conclusion.json`` each notebook writes) for the base
    scenario, its first paragraph in both languages, linked to its page."""
    bases = [f for f in facts if not f.get("base_name")] or list(facts)
    if not bases:
        return "", []
    folder = bases[0]["folder"]
    rows, found = [], []
    for notebook, (zh_title, en_title) in NOTEBOOK_TITLES.items():
        path = folder / notebook / "conclusion.json"
        if not path.is_file():
            continue
        c = json.loads(path.read_text(encoding="utf-8"))
        page = folder / notebook / f"{notebook}.report.html"
        link = (f" <a href='{_rel(root, page)}'>{both('详见报告', 'the report')}</a>" if page.exists() else "")
        rows.append(f"<li><b>{both(_h(zh_title), _h(en_title))}</b>：{both(_h(_first_paragraph(c['zh'])), _h(_first_paragraph(c['en'])))}{link}</li>")
        found.append({"notebook": notebook, "zh": _first_paragraph(c["zh"]), "en": _first_paragraph(c["en"])})
    if not rows:
        return "", []
    name = _h(bases[0].get("name", ""))
    return (f"<h2>{both('各项分析的发现（基准方案', 'What every analysis found (base scheme ')}{name}{both('）', ')')}</h2>"
            f"<ul class='findings'>{''.join(rows)}</ul>"), found


def pages_table(root: Path, pages: Sequence[Path]) -> str:
    """Every page as a table: scenarios (rows) by notebooks (columns), the code-free report and
    the page with code in each cell; pages outside that pattern listed after it."""
    cells: dict[tuple[str, str], list[Path]] = {}
    other = []
    for page in pages:
        parts = page.relative_to(root).parts
        if len(parts) == 3:
            cells.setdefault((parts[0], parts[1]), []).append(page)
        else:
            other.append(page)
    scenarios = list(dict.fromkeys(k[0] for k in cells))
    notebooks = sorted({k[1] for k in cells})
    head = "".join(f"<th>{_h(n)}</th>" for n in notebooks)
    rows = []
    for sc in scenarios:
        tds = []
        for nb in notebooks:
            links = []
            for page in sorted(cells.get((sc, nb), []), key=lambda q: not q.name.endswith(".report.html")):
                text = both("报告", "report") if page.name.endswith(".report.html") else both("含代码", "code")
                links.append(f"<a href='{_rel(root, page)}'>{text}</a>")
            tds.append(f"<td class='links'>{' · '.join(links)}</td>")
        rows.append(f"<tr><th>{_h(sc)}</th>{''.join(tds)}</tr>")
    extra = " · ".join(f"<a href='{_rel(root, p)}'>{_h(_rel(root, p))}</a>" for p in other)
    return (f"<div class='wrap'><table><tr><th>{both('方案＼笔记本', 'scenario / notebook')}</th>{head}</tr>"
            f"{''.join(rows)}</table></div>" + (f"<p>{extra}</p>" if extra else ""))


def every_page(root: Path) -> list[Path]:
    """Every HTML page of the batch folder but the index, in folder order, with jobs.html (written
    right after the index)."""
    pages = {p for p in root.rglob("*.html") if p.name != "index.html" and "/." not in p.as_posix()}
    return sorted(pages | {root / "jobs.html"})


def report_sections(root: Path, manifest: Mapping[str, Any], facts: Sequence[Mapping[str, Any]],
                    validity: Mapping[str, Mapping[str, Any] | None]) -> tuple[str, dict[str, Any]]:
    """The report part of index.html (see the module docstring) and the numbers it shows."""
    root = Path(root)
    figures = root / "figures"
    numbers: dict[str, Any] = {}
    parts: list[str] = []
    bases = [f for f in facts if not f.get("base_name") and f.get("scores") is not None]
    resolved = (bases[0] if bases else (facts[0] if facts else {})).get("resolved") or {}
    category_labels = dict(resolved.get("category_labels") or {})
    units, why = _units(manifest)
    names = group_names(units, category_labels) if units is not None else dict(GROUP_NAMES)
    # 1. the base ranking
    if bases:
        b = bases[0]
        path = baseline_figure(b["scores"], _grades_of(b.get("resolved")), category_labels,
                               figures / "index_base_ranking.png")
        counts = b["scores"]["grade"].value_counts()
        grades = _grades_of(b.get("resolved"))
        zh = "，".join(f"{g} {int(counts.get(g, 0))} 个" for g in grades)
        en = ", ".join(f"{GLOSSARY.get(g, g)} {int(counts.get(g, 0))}" for g in grades)
        n = len(b["scores"])
        parts.append(f"<h2>{both('基准方案排名：', 'The base ranking: ')}{_h(b['name'])}</h2>"
                     f"<p>{both(f'{n} 个单位分类排名；等次：{zh}。', f'{n} units ranked within categories; grades: {en}.')}</p>"
                     f"<div class='fig'><a href='{_rel(root, path)}'><img src='{_rel(root, path)}' "
                     f"alt='base ranking'></a></div>")
        numbers["base_grades"] = {g: int(counts.get(g, 0)) for g in grades}
    # 2. who gains and who loses, 3. grade transitions
    if units is None:
        parts.append(f"<p>{both('无法读取单位表，谁得谁失未画出：', 'The units table could not be read, so who gains is not shown: ')}"
                     f"{_h(why)}</p>")
    else:
        table, matrices = changes_table(facts, units, names)
        if len(table):
            path = winners_figure(table, figures / "index_winners.png")
            shown = table[["scenario", "group_zh", "group_en", "units", "mean_total_change", "rank_up", "rank_down",
                           "grade_up", "grade_down"]]
            rows = "".join(
                f"<tr><td>{_h(r.scenario)}</td><td>{both(_h(r.group_zh), _h(r.group_en))}</td><td class='num'>{r.units}</td>"
                f"<td class='num'>{r.mean_total_change:+.2f}</td><td class='num'>{r.rank_up}</td><td class='num'>{r.rank_down}</td>"
                f"<td class='num'>{r.grade_up}</td><td class='num'>{r.grade_down}</td></tr>" for r in shown.itertuples())
            head = "".join(f"<th>{both(z, e)}</th>" for z, e in (
                ("方案", "scenario"), ("单位类型", "unit type"), ("单位数", "units"), ("平均总分变化", "mean change of total"),
                ("名次上升", "rank up"), ("名次下降", "rank down"), ("等次上升", "grade up"), ("等次下降", "grade down")))
            parts.append(f"<h2>{both('谁得谁失', 'Who gains and who loses')}</h2>"
                         f"<p>{both('各方案下，中心城区、远城区和各类部门的平均总分变化与等次升降（与各自的基准方案比较）。', 'Under every scenario, the mean change of total and the grade moves of central districts, outer districts and each department category, against its base.')}</p>"
                         f"<div class='fig'><a href='{_rel(root, path)}'><img src='{_rel(root, path)}' alt='who gains'></a></div>"
                         f"<div class='wrap tablebox'><table><tr>{head}</tr>{rows}</table></div>")
            parts.append(f"<h2>{both('等次变化矩阵', 'Grade transitions')}</h2><p>{both('行：基准方案的等次；列：本方案的等次；绿色为升等，红色为降等。', 'Rows: the grade under the base; columns: under the scenario; green up, red down.')}</p>"
                         f"<div class='matrices'>{''.join(_matrix_html(n, m) for n, m in matrices.items())}</div>")
            numbers["winners"] = table.drop(columns=["group_zh", "group_en"]).to_dict("records")
            numbers["transitions"] = {n: m.to_numpy().tolist() for n, m in matrices.items()}
    # 4. validity of every scenario, and of the rater levers the reform notebook weighed
    found = [{**v, "scenario": name} for name, v in validity.items() if v]
    levers, lever_page = rater_levers(root, facts, set(validity))
    found += levers
    if found:
        rows = pd.DataFrame(found)
        path = validity_figure(rows, figures / "index_validity.png")
        strongest = rows.loc[rows["median"].abs().idxmax()]
        zh_word, en_word = VERDICT_WORDS.get(strongest["verdict"], (strongest["verdict"],) * 2)
        name, med, lo, hi = _h(strongest["scenario"]), strongest["median"], strongest["q05"], strongest["q95"]
        zh = f"影响最大的是「{name}」：τ 变化中位 {med:+.3f}（90% 区间 {lo:+.3f} 至 {hi:+.3f}），{zh_word}。"
        en = f"The largest effect is {name}: median change of tau {med:+.3f} (90 % interval {lo:+.3f} to {hi:+.3f}), {en_word}."
        lever_note = ""
        if levers and lever_page is not None:
            lever_note = (f"<p>{both('标注「调节手段」的是不改分值、只改市领导评分处理方式的方案，在合理世界上评估；', 'Rows marked (lever) keep the points and change how leader ratings are treated, judged over plausible worlds; ')}"
                          f"<a href='{_rel(root, lever_page)}'>{both('详见方案调整报告', 'see the reform report')}</a></p>")
        parts.append(f"<h2>{both('各方案对排名效度的影响', 'Validity of every scenario')}</h2>"
                     f"<p>{both(zh, en)}</p>{lever_note}"
                     f"<div class='fig'><a href='{_rel(root, path)}'><img src='{_rel(root, path)}' alt='validity'></a></div>")
        numbers["validity"] = found
    # 5. what every analysis found, each linking to its page
    html_, found_analyses = analysis_findings(root, facts)
    if html_:
        parts.append(html_)
        numbers["analyses"] = found_analyses
    # 6. find a unit
    head, rows = _unit_rows(root, facts, names)
    if rows:
        parts.append(f"<h2>{both('查找单位', 'Find a unit')}</h2>"
                     f"<p><input id='unit-search' type='search' placeholder='单位名称或编号 / unit name or ID' "
                     f"aria-label='find a unit'> <span id='unit-count'>{len(rows)}</span> "
                     f"{both('个单位', 'units')}</p>"
                     f"<div class='wrap tablebox'><table id='unit-table'><thead><tr>"
                     f"{''.join(f'<th>{h}</th>' for h in head)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    # 7. every page: scenarios by notebooks
    pages = every_page(root)
    parts.append(f"<h2>{both(f'全部页面（{len(pages)}）', f'Every page ({len(pages)})')}</h2>{pages_table(root, pages)}")
    numbers["pages"] = len(pages)
    return "\n".join(parts), numbers


__all__ = ["report_sections", "transition_html", "changes_table", "group_names", "every_page", "both", "SWITCH", "SEARCH", "CSS"]
