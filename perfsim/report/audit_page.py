"""The audit's three figures, drawn from the tables of its Result
(:func:`perfsim.analyses.audit.analysis`; the page and files come from
:func:`perfsim.report.publish.publish`): the availability map (units x indicators: actual,
missing, not expected), skewness against kurtosis with COINr's thresholds, and the
correlation heatmap of the indicators. Titles in Chinese with English, filled from the
numbers."""

from __future__ import annotations

import numpy as np

from ..analyses.audit import KURTOSIS, SKEW


def availability_chart(tables, year: int):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .plotting import label, setup_fonts

    setup_fonts()
    presence = tables["presence"].set_index("unit_id")
    order = presence["category"].sort_values(kind="stable")
    presence = presence.drop(columns="category")
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
    ax.set_title(label(f"{year} 年数据可得性 (data availability): 绿=有实绩 green = actual, "
                       f"红=缺失 red = missing ({missing}), 灰=不考核 grey = not expected"), fontsize=10)
    fig.tight_layout()
    return fig


def outlier_chart(tables, year: int):
    import matplotlib.pyplot as plt

    from .plotting import label, setup_fonts

    setup_fonts()
    ind = tables["availability_indicators"].dropna(subset=["skew", "kurtosis"])
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
    ax.set_title(label(f"{year} 年指标分布 (distribution of each indicator): "
                       f"{int(flagged.sum())} / {len(ind)} 个需处理 (to treat)"), fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def correlation_chart(tables, year: int, method: str, threshold: float):
    import matplotlib.pyplot as plt

    from .plotting import label, setup_fonts

    setup_fonts()
    m = tables["correlations"].set_index("indicator_id")
    fig, ax = plt.subplots(figsize=(min(15, 3 + 0.28 * len(m)), min(13, 2.5 + 0.26 * len(m))))
    image = ax.imshow(m.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(len(m)), m.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(m)), m.index, fontsize=7)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(label(f"相关系数 ({method} r)"))
    ax.set_title(label(f"{year} 年指标相关 (correlation of indicators): "
                       f"{len(tables['collinear'])} 对 |r| ≥ {threshold:g} (pairs)"), fontsize=10)
    fig.tight_layout()
    return fig
