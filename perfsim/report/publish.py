"""The one writer: any :class:`~perfsim.analyses.result.Result` as files a person reads.

:func:`publish` writes, all or nothing (:class:`~perfsim.core.files.OutputSet`):

- every table as ``NAME.csv`` (full precision, UTF-8 with BOM so Excel reads the Chinese);
- every figure as ``NAME.png``, drawn by the drawer its :class:`Chart` names (:data:`DRAWERS`);
- ``ANALYSIS.html``: title, the sentences, the figures with captions and the tables the
  result shows (no row numbers, numbers rounded for reading, column names in Chinese, wide
  tables scrolling in their box), Chinese first with an English switch; no script or font
  from the internet, no machine path;
- ``run.json``: the provenance of every command (scenarios with their diffs, the data and
  its hash, the settings, the code version, the warnings seen) with the result's facts;
- the result's other files (a scenario YAML).

The CLI, the notebooks and the batch publish through this one function.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..analyses.result import Chart, Result
from ..core.files import OutputSet
from .index_report import CSS as LANG_CSS
from .index_report import SWITCH, both

#: digits a page shows (the CSV files keep full precision)
SHOWN_DIGITS = 3
#: column names a reader sees: (zh, en); a column not listed keeps its own name
COLUMN_NAMES = {
    "unit_id": ("单位编号", "unit id"), "name": ("单位", "unit"), "category": ("类别", "category"),
    "total": ("总分", "total"), "rank": ("名次", "rank"), "grade": ("等次", "grade"),
    "path": ("指标路径", "path"), "indicator": ("指标", "indicator"), "indicator_id": ("指标编号", "indicator id"),
    "label": ("名称", "label"), "units": ("单位数", "units"), "nominal_weight": ("名义权重", "nominal weight"),
    "r_total": ("与总分相关", "r with total"), "variance_share": ("总分方差份额", "share of var(total)"),
    "tau_min": ("最低类别 τ", "tau (lowest category)"), "tau_mean": ("平均 τ", "tau (mean)"),
    "tau": ("Kendall τ", "Kendall tau"), "units_moved": ("名次变化单位数", "units moved"),
    "grade_changes": ("等次变化数", "grade changes"), "method": ("方法", "method"),
    "moment": ("矩", "moment"), "value": ("数值", "value"), "se": ("标准误", "standard error"),
    "years": ("年份", "years"), "definition": ("定义", "definition"), "scheme": ("方案", "scheme"),
    "step": ("步骤", "step"), "count": ("单位数", "units"), "rater": ("评价人", "rater"),
    "efficient": ("有效", "efficient"), "ccr": ("综合效率 CCR", "CCR efficiency"),
    "bcc": ("纯技术效率 BCC", "BCC efficiency"), "scale": ("规模效率", "scale efficiency"),
    "cost_per_point": ("每分预算（万元）", "budget per point (10k yuan)"),
    "base_rank": ("原名次", "base rank"), "scenario_rank": ("新名次", "new rank"),
    "rank_shift": ("名次变化", "rank change"), "base_grade": ("原等次", "base grade"),
    "scenario_grade": ("新等次", "new grade"), "missing": ("缺失", "missing"), "share": ("比例", "share"),
    "expected": ("应有", "expected"), "with_actual": ("有实绩", "with actual"),
}


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _shown_column(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "✓", False: ""})
    if not pd.api.types.is_float_dtype(values):
        return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
    numbers = values.to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    if not len(finite) or (np.round(finite) == finite).all():
        return values.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    digits = 1 if np.abs(finite).max() >= 100 else SHOWN_DIGITS
    zero = f"{0:.{digits}f}"
    return values.map(lambda v: "" if pd.isna(v) else f"{v:,.{digits}f}".replace(f"-{zero}", zero))


def readable_html(frame: pd.DataFrame, limit: int = 300, headers: Mapping[str, tuple[str, str]] | None = None,
                  box: bool = True, bilingual: bool = True) -> str:
    """A DataFrame as a page shows it: no row numbers (a meaningful index becomes columns),
    numbers rounded for reading, column names in both languages (``bilingual``; else as they
    are), at most ``limit`` rows (the CSV has them all), scrolling inside its own box."""
    if frame is None or frame.empty:
        return f"<p class='meta'>{both('（无）', '(none)') if bilingual else '(none)'}</p>"
    shown = frame
    idx = shown.index
    if not (isinstance(idx, pd.RangeIndex) or (idx.name is None and idx.nlevels == 1
                                                and pd.api.types.is_integer_dtype(idx))):
        shown = shown.reset_index()
    shown = shown.head(limit)
    names = {**COLUMN_NAMES, **(headers or {})} if bilingual else {}
    head = "".join(f"<th>{both(_h(names[str(c)][0]), _h(names[str(c)][1]))}</th>" if str(c) in names
                   else f"<th>{_h(c)}</th>" for c in shown.columns)
    columns = [_shown_column(shown[c]) for c in shown.columns]
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(shown[c])
               for c in shown.columns]
    rows = []
    for i in range(len(shown)):
        cells = "".join(f"<td class='num'>{_h(col.iloc[i])}</td>" if num else f"<td>{_h(col.iloc[i])}</td>"
                        for col, num in zip(columns, numeric))
        rows.append(f"<tr>{cells}</tr>")
    rest = len(frame) - limit
    more = (f"<p class='meta'>{both(f'另有 {rest} 行见 CSV 文件', f'{rest} more rows in the CSV') if bilingual else f'{rest} more rows'}"
            "</p>" if rest > 0 else "")
    table = f"<table class='perfsim-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return (f"<div class='tablebox' style='overflow:auto;max-height:32em;max-width:100%'>{table}</div>"
            if box else table) + more


# --------------------------------------------------------------------------- drawers

def _influence(tables, scheme_name: str, top: int = 25):
    from .plotting import influence_figure

    return influence_figure(tables["influence"], scheme_name, top)


def _methods(tables, scheme_name: str):
    from .plotting import methods_figure

    return methods_figure(tables["method_summary"], tables["method_ranks"], scheme_name)


def _efficiency(tables):
    from .plotting import efficiency_figure

    return efficiency_figure(tables.get("efficiency"), tables.get("cost_per_point"))


def _raters(tables, source: str, year: int, alpha: float):
    from types import SimpleNamespace

    from .plotting import raters_figure

    return raters_figure(SimpleNamespace(raters=tables["raters"], pairs=tables["pairs"], units=tables["units"],
                                         source=source, year=year, alpha=alpha))


def _audit(which: str):
    def draw(tables, **args):
        from . import audit_page

        return getattr(audit_page, f"{which}_chart")(tables, **args)
    return draw


def _steps(tables, scheme_names: list[str]):
    from .plotting import consequences_figure

    return consequences_figure(tables["steps"], scheme_names)


def _moments(tables):
    from .plotting import moments_figure

    return moments_figure(tables["moments"])


def _shifts(tables, base_name: str, scenario_name: str):
    from .plotting import slope_chart

    return slope_chart(tables["rank_shifts"], base_name, scenario_name)


def _lights(tables, labels, period: str):
    from .plotting import lights_figure

    return lights_figure(tables["progress"], labels, period)


#: the drawers a :class:`Chart` names: ``draw(tables, **args) -> matplotlib Figure``
DRAWERS: dict[str, Callable[..., Any]] = {
    "influence": _influence, "methods": _methods, "efficiency": _efficiency, "raters": _raters,
    "availability": _audit("availability"), "outliers": _audit("outlier"), "correlations": _audit("correlation"),
    "steps": _steps, "moments": _moments, "shifts": _shifts, "lights": _lights,
}


def draw(result: Result, name: str):
    """Figure ``name`` of ``result`` as a matplotlib Figure."""
    chart: Chart = result.figures[name]
    if chart.draw not in DRAWERS:
        raise KeyError(f"figure '{name}' of '{result.analysis}': no drawer '{chart.draw}' "
                       f"(known: {', '.join(sorted(DRAWERS))})")
    return DRAWERS[chart.draw]({t: result.tables[t] for t in chart.tables}, **dict(chart.args))


# --------------------------------------------------------------------------- the page

def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_h(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def text_html(result: Result) -> str:
    """The result's sentences in both languages, as paragraphs (the switch shows one)."""
    return (f"<div class='l-zh'>{_paragraphs(result.text('zh'))}</div>"
            f"<div class='l-en'>{_paragraphs(result.text('en'))}</div>")


def page(result: Result, meta: Mapping[str, str] | None = None, lang: str = "zh", more_html: str = "") -> str:
    """The result's HTML page (see the module's text)."""
    from .pages import CSS

    parts = [f"<h1>{both(_h(result.title['zh']), _h(result.title['en']))}</h1>"]
    if meta:
        parts.append("<p class='meta'>" + " · ".join(f"{_h(k)}: {_h(v)}" for k, v in meta.items()) + "</p>")
    parts.append(text_html(result))
    for name, chart in result.figures.items():
        parts.append(f"<h2>{both(_h(chart.title['zh']), _h(chart.title['en']))}</h2>"
                     f"<p class='fig'><a href='{_h(name)}.png'><img src='{_h(name)}.png' "
                     f"alt='{_h(chart.title['zh'])}'></a></p>")
    for table, zh, en in result.shown:
        parts.append(f"<h2>{both(_h(zh), _h(en))}</h2>{readable_html(result.tables[table])}")
    if more_html:
        parts.append(more_html)
    files = [f"{t}.csv" for t in result.tables] + [f"{f}.png" for f in result.figures] + list(result.files) + ["run.json"]
    parts.append(f"<p class='meta'>{both('文件', 'Files')}: "
                 + ", ".join(f"<a href='{_h(f)}'>{_h(f)}</a>" for f in files) + "</p>")
    body_class = " class='lang-en'" if lang == "en" else ""
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_h(result.title[lang])}</title><style>{CSS}{LANG_CSS}</style></head>"
            f"<body{body_class}>{SWITCH}{''.join(parts)}</body></html>\n")


def publish(result: Result, out: str | Path, provenance: Mapping[str, Any] | None = None,
            meta: Mapping[str, str] | None = None, lang: str = "zh", page_name: str | None = None,
            extra: Callable[[OutputSet], None] | None = None, more_html: str = "") -> list[Path]:
    """Write ``result`` into folder ``out`` (see the module's text); ``provenance`` is the
    command's :func:`~perfsim.report.provenance.run_facts` (the result's facts are added),
    ``extra`` writes more files into the same set, ``more_html`` goes on the page after the
    tables. Returns the paths written."""
    import matplotlib.pyplot as plt

    figures = {}
    try:
        for name in result.figures:
            figures[name] = draw(result, name)
        with OutputSet(out) as outputs:
            for name, table in result.tables.items():
                outputs.csv(table, f"{name}.csv")
            for name, fig in figures.items():
                fig.savefig(outputs.path(f"{name}.png"), dpi=110)
            for name, text in result.files.items():
                outputs.text(text, name)
            outputs.text(page(result, meta, lang, more_html), page_name or f"{result.analysis}.html")
            if extra is not None:
                extra(outputs)
            outputs.json({**dict(provenance or {}), "analysis": result.analysis, "title": dict(result.title),
                          "facts": _jsonable(dict(result.facts)), "text": dict(result.texts),
                          "tables": [f"{t}.csv" for t in result.tables],
                          "figures": {f"{n}.png": {"draw": c.draw, "tables": list(c.tables), "title": dict(c.title)}
                                      for n, c in result.figures.items()}}, "run.json")
    finally:
        for fig in figures.values():
            plt.close(fig)
    return [Path(out) / n for n in outputs.names]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return value.name
    return value
