"""The audit as files a person reads: CSV tables, three figures and ``audit.html``.

Figures (Chinese with English): the availability map (units x indicators: actual,
missing, not expected), skewness against kurtosis with COINr's thresholds, and the
correlation heatmap of the indicators. The page's sentences are filled from the
numbers.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analyses.audit import KURTOSIS, SKEW, Audit
from ..core.contract import Dataset
from ..core.files import OutputSet
from .pages import CSS, html_table


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def availability_figure(result: Audit, dataset: Dataset):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .plotting import label, setup_fonts

    setup_fonts()
    presence = result.presence
    order = dataset.units.set_index("unit_id").reindex(presence.index)["category"].fillna("").sort_values(kind="stable")
    grid = presence.loc[order.index].to_numpy(dtype=float)
    shown = np.where(np.isnan(grid), 0, np.where(grid == 1, 2, 1))
    fig, ax = plt.subplots(figsize=(min(16, 3 + 0.22 * presence.shape[1]), min(18, 2 + 0.12 * presence.shape[0])))
    ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=ListedColormap(["#eeeeee", "#d62728", "#2ca02c"]),
              vmin=0, vmax=2)
    ax.set_xticks(range(presence.shape[1]), presence.columns, rotation=90, fontsize=7)
    step = max(1, presence.shape[0] // 60)
    ax.set_yticks(range(0, presence.shape[0], step), list(order.index[::step]), fontsize=6)
    ax.set_xlabel(label("指标 (indicator)"))
    ax.set_ylabel(label("单位（按类别）(unit, by category)"))
    missing = int((grid == 0).sum())
    ax.set_title(label(f"{result.year} 年数据可得性 (data availability): 绿=有实绩 green = actual, "
                       f"红=缺失 red = missing ({missing}), 灰=不考核 grey = not expected"), fontsize=10)
    fig.tight_layout()
    return fig


def outlier_figure(result: Audit):
    import matplotlib.pyplot as plt

    from .plotting import label, setup_fonts

    setup_fonts()
    ind = result.indicators.dropna(subset=["skew", "kurtosis"])
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    flagged = ind["flagged"].astype(bool)
    ax.scatter(ind.loc[~flagged, "skew"], ind.loc[~flagged, "kurtosis"], color="#1f77b4", label=label("未标记 (passes)"))
    ax.scatter(ind.loc[flagged, "skew"], ind.loc[flagged, "kurtosis"], color="#d62728",
               label=label(f"异常值 (outliers: |skew| > {SKEW:g} and kurtosis > {KURTOSIS:g})"))
    for row in ind[flagged].itertuples():
        ax.annotate(row.indicator_id, (row.skew, row.kurtosis), fontsize=8, xytext=(3, 3), textcoords="offset points")
    for x in (-SKEW, SKEW):
        ax.axvline(x, color="grey", lw=0.8, ls="--")
    ax.axhline(KURTOSIS, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(label("偏度 (skewness)"))
    ax.set_ylabel(label("峰度 (excess kurtosis)"))
    ax.set_title(label(f"{result.year} 年指标分布 (distribution of each indicator): "
                       f"{int(flagged.sum())} / {len(ind)} 个需处理 (to treat)"), fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def correlation_figure(result: Audit):
    import matplotlib.pyplot as plt

    from .plotting import label, setup_fonts

    setup_fonts()
    m = result.matrix
    fig, ax = plt.subplots(figsize=(min(15, 3 + 0.28 * len(m)), min(13, 2.5 + 0.26 * len(m))))
    image = ax.imshow(m.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(len(m)), m.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(m)), m.index, fontsize=7)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(label(f"相关系数 ({result.method} r)"))
    ax.set_title(label(f"{result.year} 年指标相关 (correlation of indicators): "
                       f"{len(result.pairs)} 对 |r| ≥ {result.threshold:g} (pairs)"), fontsize=10)
    fig.tight_layout()
    return fig


def summary(result: Audit) -> dict[str, Any]:
    """The audit's key numbers (for audit.json and the page's sentences)."""
    presence = result.presence
    expected = int(presence.notna().sum().sum())
    have = int(presence.eq(1).sum().sum())
    flagged = result.indicators[result.indicators["flagged"].astype(bool)]["indicator_id"].tolist()
    negative = [] if result.levels is None else result.levels[result.levels["negative"]]["path"].tolist()
    return {"year": result.year, "expected_cells": expected, "cells_with_actual": have,
            "missing_cells": expected - have, "availability": round(have / expected, 4) if expected else None,
            "units_with_missing": int((result.units["missing"] > 0).sum()), "outlier_indicators": flagged,
            "correlated_pairs": len(result.pairs), "threshold": result.threshold, "method": result.method,
            "negative_leaves": negative, "max_share": result.max_share,
            "concentrated": [] if result.concentration is None else [
                {"unit_type": r.unit_type, "path": r.path, "max_share": round(float(r.max_share), 4)}
                for r in result.concentration[result.concentration["flagged"]].itertuples()]}


def write_audit(result: Audit, dataset: Dataset, out: str | Path, scheme_name: str | None = None,
                origin: str = "") -> list[Path]:
    """availability_units.csv, availability_indicators.csv, availability_tables.csv,
    outliers.csv, correlations.csv, collinear.csv, levels.csv and concentration.csv (with a scheme), three
    figures, audit.json and audit.html; all or nothing."""
    import matplotlib.pyplot as plt

    facts = summary(result)
    figures = {"availability.png": availability_figure(result, dataset), "outliers.png": outlier_figure(result),
               "correlations.png": correlation_figure(result)}
    with OutputSet(out) as outputs:
        outputs.csv(result.units, "availability_units.csv")
        outputs.csv(result.indicators, "availability_indicators.csv")
        outputs.csv(result.tables, "availability_tables.csv")
        outputs.csv(result.indicators[["indicator_id", "name", "basis", "n", "skew", "kurtosis", "flagged",
                                       "treatment", "skew_treated", "kurtosis_treated"]], "outliers.csv")
        outputs.csv(result.matrix.rename_axis("indicator_id").reset_index(), "correlations.csv")
        outputs.csv(result.pairs, "collinear.csv")
        if result.levels is not None:
            outputs.csv(result.levels, "levels.csv")
        if result.concentration is not None:
            outputs.csv(result.concentration, "concentration.csv")
        for name, fig in figures.items():
            fig.savefig(outputs.path(name), dpi=110)
            plt.close(fig)
        outputs.json({**facts, "scheme": scheme_name, "data": origin}, "audit.json")
        outputs.text(_page(result, facts, scheme_name, origin), "audit.html")
    return [Path(out) / n for n in outputs.names]


def _page(result: Audit, facts: dict, scheme_name: str | None, origin: str) -> str:
    share = facts["availability"]
    lines = [
        f"<p class='headline'>{result.year} 年：应有 {facts['expected_cells']} 个实绩，缺 {facts['missing_cells']} 个"
        f"（可得率 {share:.1%}），涉及 {facts['units_with_missing']} 个单位；"
        f"{len(facts['outlier_indicators'])} 个指标分布偏斜需处理；{facts['correlated_pairs']} 对指标 "
        f"|r| ≥ {result.threshold:g}。</p>" if share is not None else "<p>无应有实绩 (no expected actuals)</p>",
        f"<p class='en'>{result.year}: {facts['cells_with_actual']} of {facts['expected_cells']} expected actuals "
        f"are present ({facts['missing_cells']} missing, in {facts['units_with_missing']} units); "
        f"{len(facts['outlier_indicators'])} indicator(s) fail COINr's skewness/kurtosis rule; "
        f"{facts['correlated_pairs']} pair(s) correlate at |r| ≥ {result.threshold:g} "
        "(candidates for 少而精 reduction).</p>" if share is not None else ""]
    levels = ""
    if result.levels is not None:
        neg = result.levels[result.levels["negative"]]
        levels = (f"<h2>层级相关 (each leaf against its dimension, component and total)</h2>"
                  f"<p>{len(neg)} 个末级指标与上级或总分负相关 (leaves correlated negatively with a level above: "
                  f"they pull against the index).</p>" + html_table(result.levels))
    if result.concentration is not None:
        heavy = result.concentration[result.concentration["flagged"]]
        said = "；".join(f"{r.path.split('.')[-1]} 占 {r.unit_type} 单位总分的 {r.max_share:.1%}"
                        for r in heavy.head(8).itertuples())
        levels += (f"<h2>指标权重集中度 (effective weight of each indicator, per unit type)</h2>"
                   f"<p>{len(heavy)} 个指标在权重重新归一后占某类单位总分的 {result.max_share:.0%} 以上"
                   f"{'：' + _h(said) if said else ''}。"
                   f"<span class='en'>{len(heavy)} indicator(s) carry more than {result.max_share:.0%} of a unit's "
                   "points once weights are re-normalised over the indicators that apply (少而精 asks for a few "
                   "weighty indicators, not one that decides the total).</span></p>"
                   + html_table(result.concentration.head(30)))
    flagged = result.indicators[result.indicators["flagged"].astype(bool)]
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>数据审计 data audit · {_h(origin)}</title><style>{CSS}</style></head><body>
<h1>数据审计 <span class='en'>(data audit)</span></h1>
<p class='meta'>数据 data: {_h(origin)} · 年度 year: {result.year}{' · 方案 scheme: ' + _h(scheme_name) if scheme_name else ''}</p>
{''.join(lines)}
<h2>数据可得性 (availability)</h2>
<a href="availability.png"><img src="availability.png" style="max-width:100%"></a>
<h3>按表 (per table)</h3>{html_table(result.tables)}
<h3>缺失最多的单位 (units with most missing)</h3>{html_table(result.units.sort_values('missing', ascending=False).head(20))}
<h3>按指标 (per indicator)</h3>{html_table(result.indicators[['indicator_id', 'name', 'expected', 'with_actual', 'missing', 'share']])}
<h2>异常值 (outliers: |skewness| &gt; {SKEW:g} and kurtosis &gt; {KURTOSIS:g})</h2>
<a href="outliers.png"><img src="outliers.png" style="max-width:640px"></a>
{html_table(flagged[['indicator_id', 'name', 'basis', 'n', 'skew', 'kurtosis', 'treatment', 'skew_treated', 'kurtosis_treated']])}
<p class='meta'>处理 (treat): 在方案的 minmax/rank 指标上加 <code>treat: {{method: winsorise, max_points: 5}}</code>
（COINr Treat：逐点缩尾，不足则对数变换 log_CT）。</p>
<h2>指标相关 (correlations, {_h(result.method)})</h2>
<a href="correlations.png"><img src="correlations.png" style="max-width:100%"></a>
<h3>|r| ≥ {result.threshold:g} 的指标对 (pairs: candidates for reduction)</h3>{html_table(result.pairs)}
{levels}
<p class='meta'>Files: availability_units.csv, availability_indicators.csv, availability_tables.csv, outliers.csv,
correlations.csv, collinear.csv{', levels.csv, concentration.csv' if result.levels is not None else ''}, audit.json.</p>
</body></html>
"""
