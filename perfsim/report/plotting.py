"""Plot helpers: the scheme's Chinese labels in every figure, on any machine.

Matplotlib draws empty boxes for characters its font lacks, and a fresh machine often has
no font that draws Chinese. :func:`setup_fonts` uses an installed CJK font if there is one,
else registers the Noto Sans CJK SC font that the ``mplfonts`` package (a dependency)
ships, with matplotlib's font manager for this process only (nothing is installed into
the system or matplotlib). Only if neither exists do figures fall back to the English
names of the glossary (DESIGN section 2), with a warning. Tables never change with fonts.
"""

from __future__ import annotations

from functools import lru_cache

#: Chinese terms of the glossary and of the shipped schemes, with their English names.
GLOSSARY = {
    "优秀": "Excellent", "良好": "Good", "达标": "Pass", "不达标": "Fail",
    "总分": "Total", "目标考核": "Target assessment", "市领导评价": "City-leader rating",
    "满意度评价": "Satisfaction", "特色指标": "Special indicators", "加分": "Bonus",
    "减分": "Deduction",
    "经济建设": "Economic", "政治建设": "Political", "文化建设": "Cultural",
    "社会建设": "Social", "生态文明建设": "Ecological", "党的建设": "Party building",
}
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC",
                "Heiti SC", "AR PL UMing CN", "Droid Sans Fallback")
#: the font file shipped by the mplfonts package
MPLFONTS_FILE = "NotoSansCJKsc-Regular.otf"


def _bundled_cjk() -> str | None:
    """Register mplfonts' Noto Sans CJK SC with matplotlib (this process only); its name."""
    try:
        import importlib.resources as resources

        from matplotlib import font_manager

        path = resources.files("mplfonts") / "fonts" / MPLFONTS_FILE
        if not path.is_file():
            return None
        font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
    except Exception:        # mplfonts missing or broken: fall back, with a warning
        return None


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of a font that draws Chinese: an installed one, else mplfonts' bundled one."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return _bundled_cjk()


def setup_fonts() -> str | None:
    """Put a CJK font first in matplotlib's sans-serif list (see the module docstring)."""
    import warnings

    import matplotlib

    from ..core.errors import PerfsimWarning

    family = cjk_font()
    if family is not None:
        matplotlib.rcParams["font.sans-serif"] = [family, *[f for f in matplotlib.rcParams["font.sans-serif"]
                                                           if f != family]]
        matplotlib.rcParams["axes.unicode_minus"] = False
    else:
        warnings.warn("no font that draws Chinese (install perfsim's dependency mplfonts): figures use "
                      "English names", PerfsimWarning, stacklevel=2)
    return family


def label(text: str) -> str:
    """``text`` if it can be drawn, else its English name (or the text without CJK)."""
    if text is None or text.isascii() or cjk_font() is not None:
        return text
    return GLOSSARY.get(text, text)


def unit_names(units) -> "dict[str, str]":
    """unit_id -> a name that can be drawn: ``name``, or ``name_en`` without a CJK font."""
    use_en = cjk_font() is None and "name_en" in units
    names = units["name_en"].fillna(units["name"]) if use_en else units["name"]
    return dict(zip(units["unit_id"], names))


def slope_chart(shifts, base_name: str, scenario_name: str, ncol: int = 3):
    """Ranks before and after per category (green: up, red: down, grey: unchanged)."""
    import matplotlib.pyplot as plt

    categories = sorted(shifts["category"].unique())
    nrow = -(-len(categories) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.6 * nrow), squeeze=False)
    for ax, category in zip(axes.flat, categories):
        g = shifts[shifts["category"] == category]
        for base_rank, scen_rank, shift in zip(g["rank_base"], g["rank_scenario"], g["shift"]):
            colour = "tab:green" if shift < 0 else "tab:red" if shift > 0 else "lightgrey"
            ax.plot([0, 1], [base_rank, scen_rank], color=colour, marker="o", ms=3,
                    zorder=3 if shift else 2)
        ax.invert_yaxis()
        integer_ticks(ax)
        ax.set_xticks([0, 1], [base_name, scenario_name])
        ax.set_xlim(-0.2, 1.2)
        ax.set_title(f"{category} ({len(g)} units)")
        ax.set_ylabel("rank within category (1 = best)")
    for ax in axes.flat[len(categories):]:
        ax.set_visible(False)
    fig.suptitle(f"Rank shifts from '{base_name}' to '{scenario_name}' (green: up, red: down)")
    fig.tight_layout()
    return fig


def category_grid(sizes: "list[int]", ncol: int = 3, width: float = 13.0, per_unit: float = 0.14):
    """A figure with one panel per category: up to ``ncol`` columns (fewer when there are
    fewer categories), each row tall enough for its largest category's unit labels."""
    import matplotlib.pyplot as plt

    ncol = max(1, min(ncol, len(sizes)))
    nrow = -(-len(sizes) // ncol)
    heights = [max(3.8, per_unit * max(sizes[r * ncol:(r + 1) * ncol]) + 1.2) for r in range(nrow)]
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, min(sum(heights), 60)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax in axes.flat[len(sizes):]:
        ax.set_visible(False)
    return fig, axes


def _finish(fig, title: str) -> None:
    """Title above the panels (half an inch kept free for it) and a tight layout."""
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))


def _every(n: int, most: int = 60) -> int:
    """Label every k-th of n items so that at most about ``most`` labels are drawn."""
    return max(1, -(-n // most))


def rank_bands(stats, title: str):
    """Per category: each unit's 5-95 % rank band, median and nominal rank (``rank_stats``)."""
    categories = list(dict.fromkeys(stats["category"]))
    groups = [stats[stats["category"] == c].sort_values("rank_nominal") for c in categories]
    fig, axes = category_grid([len(g) for g in groups])
    for ax, category, g in zip(axes.flat, categories, groups):
        y = list(range(len(g)))
        ax.hlines(y, g["rank_q05"], g["rank_q95"], color="tab:blue", lw=3, alpha=0.5, label="5-95 %")
        ax.plot(g["rank_median"], y, "x", color="tab:blue", label="median")
        ax.plot(g["rank_nominal"], y, "o", color="black", ms=3, label="nominal")
        k = _every(len(g))
        ax.set_yticks(y[::k], list(g["unit_id"])[::k], fontsize=6)
        ax.invert_yaxis()
        ax.set_title(f"{category} ({len(g)} units)")
        ax.set_xlabel("rank within category (1 = best)")
        ax.set_ylabel("unit (by nominal rank)")
        integer_ticks(ax, "x")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    _finish(fig, title)
    return fig


def acceptability_maps(acceptability):
    """Per category: heat map of each unit's probability of each rank (SMAA)."""
    import seaborn as sns

    acc = acceptability.set_index("unit_id")
    categories = list(dict.fromkeys(acc["category"]))
    groups = [acc[acc["category"] == c] for c in categories]
    fig, axes = category_grid([len(g) for g in groups])
    for ax, category, g in zip(axes.flat, categories, groups):
        size, k = len(g), _every(len(g))
        sns.heatmap(g[[f"rank_{r}" for r in range(1, size + 1)]], ax=ax, cmap="Blues", vmin=0, vmax=1,
                    xticklabels=list(range(1, size + 1)) if k == 1 else k,
                    yticklabels=list(g.index) if k == 1 else k,
                    cbar=ax is axes.flat[0], cbar_kws={"label": "probability", "fraction": 0.04, "pad": 0.02})
        if k > 1:
            ax.set_xticklabels([t.get_text().removeprefix("rank_") for t in ax.get_xticklabels()])
        ax.set_title(f"{category} ({size} units)")
        ax.set_xlabel("rank")
        ax.set_ylabel("unit (by nominal rank)")
        ax.tick_params(labelsize=6)
    _finish(fig, "Rank acceptability indices: probability of each rank")
    return fig


def interval_band(ax, x, effects, label: str, colour: str | None = None, marker: str = "o"):
    """Median line with its 5-95 % band (``effects`` has ``median``, ``q05``, ``q95``)."""
    line, = ax.plot(x, effects["median"], marker=marker, ms=4, label=f"{label} (median)", color=colour)
    ax.fill_between(x, effects["q05"], effects["q95"], alpha=0.2, color=line.get_color(),
                    label=f"{label} (5-95 % of worlds)")
    return line


def effect_histogram(values, row, title: str, xlabel: str):
    """Distribution over worlds of an effect, its median and 90 % interval, and zero."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.hist(values, bins=min(30, max(8, len(values) // 4)), color="tab:blue", alpha=0.6, label="worlds")
    ax.axvline(0, color="black", lw=1, label="no effect")
    ax.axvline(row["median"], color="tab:red", lw=2, label=f"median {row['median']:+.3f}")
    ax.axvspan(row["q05"], row["q95"], color="tab:red", alpha=0.12,
               label=f"90 % interval [{row['q05']:+.3f}, {row['q95']:+.3f}]")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of worlds")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def node_labels(scheme) -> "dict[str, str]":
    """Every node path (``tree.targets.economic``) and component id (``targets``) of a scheme
    mapped to its label for figures: the scheme's ``label`` with ``label_en`` in
    parentheses, or the id where a node has no label."""
    from ..core.scheme import iter_nodes, plain

    scheme = plain(scheme)
    out = {}
    for path, node in iter_nodes(scheme.tree):
        key = path.rsplit(".", 1)[-1]
        text = node.label or key
        if node.label_en and node.label_en != text:
            text = f"{text} ({node.label_en})"
        out[path] = text
        if path.count(".") == 1:
            out[key] = text
    out.update(bonus="加分 (bonus)", deduction="减分 (deduction)")
    return out


def input_group_label(group: str, labels: "dict[str, str]", lang: str = "en") -> str:
    """A Sobol input group (``weights tree.targets``, ``noise tree.satisfaction``) in words
    (``lang`` zh: in Chinese, with the node's Chinese label)."""
    kind, _, path = group.partition(" ")
    name = labels.get(path, path)
    if lang == "zh":
        name = name.split(" (", 1)[0]
        return {"weights": f"{name}的权重", "noise": f"{name}的抽样误差"}.get(kind, group)
    return {"weights": f"weights in {name}", "noise": f"sampling noise of {name}"}.get(kind, group)


def integer_ticks(ax, axis: str = "y") -> None:
    """Whole-number ticks only (ranks, counts)."""
    from matplotlib.ticker import MaxNLocator

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))


def many_colours(count: int):
    """Distinct colours for up to 20 lines (tab20), beyond that a continuous map."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20" if count <= 20 else "viridis")
    return [cmap(i if count <= 20 else i / max(1, count - 1)) for i in range(count)]


def strip_points(data, x: str, y: str, ax, seed: int, **kwargs):
    """seaborn's strip plot with its jitter drawn from ``seed``: seaborn draws it from
    numpy's global generator, so the same figure of the same data came out differently on
    each run. numpy's global state is put back afterwards."""
    import numpy as np
    import seaborn as sns

    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        return sns.stripplot(data=data, x=x, y=y, ax=ax, **kwargs)
    finally:
        np.random.set_state(state)


def rank_history(scores, names: "dict[str, str]", persistence, movers: int = 2, ncol: int = 3):
    """Each unit's rank year by year, one panel per category (rank 1 at the top); the
    ``movers`` units of each category that moved most over the years are drawn in colour
    and named; each panel's title gives the last rank persistence (Kendall tau)."""
    cats = sorted(scores["category"].unique())
    fig, axes = category_grid([60] * len(cats), ncol=ncol, per_unit=0.06)
    last = persistence.sort_values("year_to").groupby("category").tail(1).set_index("category")["tau"]
    for ax, cat in zip(axes.flat, cats):
        part = scores[scores["category"] == cat].pivot(index="year", columns="unit_id", values="rank")
        swing = (part.max() - part.min()).sort_values(ascending=False, kind="stable")
        for unit in part.columns:
            ax.plot(part.index, part[unit], color="#bbbbbb", lw=0.8, marker=".", ms=3)
        for k, unit in enumerate(swing.index[:movers]):
            colour = ("#d62728", "#1f77b4", "#2ca02c")[k % 3]
            ax.plot(part.index, part[unit], color=colour, lw=2, marker="o", ms=4,
                    label=label(f"{names.get(unit, unit)} ({unit})"))
        ax.set_ylim(float(part.max().max()) + 0.5, 0.5)      # rank 1 at the top
        integer_ticks(ax, "x")
        integer_ticks(ax, "y")
        tau = last.get(cat)
        ax.set_title(label(f"{cat}: τ {tau:+.2f}" if tau is not None and tau == tau else str(cat)), fontsize=10)
        ax.set_xlabel(label("年度 (year)"))
        ax.set_ylabel(label("名次 (rank)"))
        ax.legend(fontsize=7, loc="lower left")
    _finish(fig, label("各单位历年名次（纵向比较） Each unit's rank year by year; τ: rank persistence "
                       "to the latest year"))
    return fig


def influence_figure(table, scheme_name: str, top: int = 25):
    """Left: each indicator's nominal weight against its share of the variance of totals
    (on the diagonal they agree). Right: Kendall tau to the full ranking when the
    indicator is dropped (lowest category), the most influential first."""
    import matplotlib.pyplot as plt

    setup_fonts()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    left.scatter(table["nominal_weight"], table["variance_share"], color="#1f77b4")
    for row in table.head(8).itertuples():
        left.annotate(row.indicator, (row.nominal_weight, row.variance_share), fontsize=7,
                      xytext=(3, 3), textcoords="offset points")
    top_ = max(float(table["nominal_weight"].max()), float(table["variance_share"].max()), 0.01)
    left.plot([0, top_], [0, top_], color="grey", lw=0.8, ls="--", label=label("名义 = 实际 (nominal = effective)"))
    left.set_xlabel(label("名义权重（总分份额） nominal weight (share of the total points)"))
    left.set_ylabel(label("实际影响（总分方差份额） effective influence (share of var(total))"))
    left.set_title(label("权重与实际影响 (weight and real influence)"), fontsize=10)
    left.legend(fontsize=8)
    shown = table.head(top).iloc[::-1]
    right.barh(range(len(shown)), shown["tau_min"], color="#d62728")
    right.set_yticks(range(len(shown)), [label(f"{r.label} ({r.indicator})" if r.label else r.indicator)
                                         for r in shown.itertuples()], fontsize=7)
    right.set_xlim(min(0.5, float(shown["tau_min"].min()) - 0.02), 1.0)
    right.set_xlabel(label("去掉该指标后与原排名的 Kendall τ（最低类别） tau to the full ranking without it"))
    right.set_title(label(f"最有影响的 {len(shown)} 个指标 (the {len(shown)} most influential)"), fontsize=10)
    fig.suptitle(label(f"'{scheme_name}': 逐一去掉指标 (dropping each indicator in turn)"))
    fig.tight_layout()
    return fig


METHOD_COLOURS = {"TOPSIS": "#1f77b4", "VIKOR": "#ff7f0e", "PROMETHEE_II": "#2ca02c"}


def methods_figure(summary, ranks, scheme_name: str):
    """Left: Kendall tau between the scheme's ranking and each method's, per category.
    Right: every unit's rank under the scheme against its rank under each method (on the
    diagonal they agree)."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    done = summary.dropna(subset=["tau"])
    categories = list(dict.fromkeys(done["category"]))
    methods = list(dict.fromkeys(done["method"]))
    width = 0.8 / max(len(methods), 1)
    for k, method in enumerate(methods):
        part = done[done["method"] == method].set_index("category").reindex(categories)
        left.bar(np.arange(len(categories)) + (k - (len(methods) - 1) / 2) * width, part["tau"], width,
                 color=METHOD_COLOURS.get(method), label=method)
    left.set_xticks(range(len(categories)), categories, rotation=30, ha="right", fontsize=8)
    left.axhline(0.8, color="grey", lw=0.8, ls="--")
    left.set_ylim(min(0.0, float(done["tau"].min()) - 0.05) if len(done) else 0.0, 1.0)
    left.set_ylabel(label("与方案排名的 Kendall τ (tau to the scheme's ranking)"))
    left.set_xlabel(label("考核类别 (category)"))
    left.set_title(label("各方法与方案排名的一致性 (agreement per category)"), fontsize=10)
    left.legend(fontsize=8)
    jitter = {m: (k - 1) * 0.15 for k, m in enumerate(methods)}
    for method in methods:
        col = f"rank_{method}"
        on = ranks[col].notna()
        right.scatter(ranks.loc[on, "rank_scheme"] + jitter[method], ranks.loc[on, col], s=10, alpha=0.6,
                      color=METHOD_COLOURS.get(method), label=method)
    most = float(ranks["rank_scheme"].max()) if len(ranks) else 1.0
    right.plot([1, most], [1, most], color="grey", lw=0.8, ls="--")
    right.set_xlabel(label("方案排名（类别内） rank under the scheme (within category)"))
    right.set_ylabel(label("按方法的排名 rank under the method"))
    right.set_title(label("每个单位的排名 (every unit's rank)"), fontsize=10)
    right.legend(fontsize=8)
    integer_ticks(right, "x")
    integer_ticks(right, "y")
    fig.suptitle(label(f"'{scheme_name}': 排名对集成方法的依赖 (how much the ranking owes to the method)"))
    fig.tight_layout()
    return fig


def weightings_figure(weights, effects, node_label: str):
    """Left: the node's children's weights by each method side by side (the scheme's own
    first). Right: Kendall tau between the scheme's ranking and the ranking under each
    method's weights, per category."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.2))
    children = list(dict.fromkeys(weights["child"]))
    first = weights.drop_duplicates("child").set_index("child")
    series = [("scheme", first.loc[children, "weight_before"].to_numpy())]
    series += [(m, part.set_index("child").loc[children, "weight"].to_numpy())
               for m, part in weights.groupby("method", sort=False)]
    width = 0.85 / len(series)
    colours = [plt.get_cmap("tab10")(k % 10) for k in range(len(series) + 1)]
    for k, (name, values) in enumerate(series):
        left.bar(np.arange(len(children)) + (k - (len(series) - 1) / 2) * width, values, width,
                 color="black" if name == "scheme" else colours[k], label=name)
    names = [label(f"{first.loc[c, 'label']} ({c})") if first.loc[c, "label"] else c for c in children]
    left.set_xticks(range(len(children)), names, rotation=30, ha="right", fontsize=8)
    left.set_ylabel(label("权重（子项份额） weight (share among the children)"))
    left.set_title(label(f"{node_label}: 各方法的权重 (weights by method)"), fontsize=10)
    left.legend(fontsize=7, ncol=2)
    done = effects.dropna(subset=["tau"])
    table = done.pivot(index="category", columns="method", values="tau")
    methods = [m for m in dict.fromkeys(done["method"])]
    for k, method in enumerate(methods):
        right.plot(range(len(table)), table[method], marker="o", color=colours[1 + k], label=method)
    right.set_xticks(range(len(table)), list(table.index), rotation=30, ha="right", fontsize=8)
    right.axhline(1.0, color="grey", lw=0.8, ls=":")
    right.set_ylabel(label("与方案排名的 Kendall τ (tau to the scheme's ranking)"))
    right.set_xlabel(label("考核类别 (category)"))
    right.set_title(label("各权重下的排名变化 (rank change each weighting causes)"), fontsize=10)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


def raters_figure(fit):
    """Left: each rater's leniency with its 95 % interval. Middle: compression with its
    95 % interval. Right: the rater x unit residual z-scores (units by category, then by
    adjusted rating), candidate favours circled."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    r = fit.raters.sort_values("leniency")
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1, 1, 2.4]})
    lenient = ["#d62728" if ("lenient" in w or "severe" in w) else "#1f77b4" for w in r["reason"]]
    compressing = ["#d62728" if "compressing" in w else "#1f77b4" for w in r["reason"]]
    y = np.arange(len(r))
    axes[0].errorbar(r["leniency"], y, xerr=1.96 * r["leniency_se"], fmt="none", ecolor="grey", lw=1)
    axes[0].scatter(r["leniency"], y, c=lenient, zorder=3)
    axes[0].axvline(0, color="grey", lw=0.8, ls="--")
    axes[0].set_yticks(y, r["rater_id"], fontsize=8)
    axes[0].set_xlabel(label("宽严度 leniency (points, 95 % interval)"))
    axes[0].set_ylabel(label("评分人 rater"))
    axes[0].set_title(label("宽严 (leniency; red: beyond chance)"), fontsize=10)
    axes[1].errorbar(r["compression"], y, xerr=1.96 * r["compression_se"], fmt="none", ecolor="grey", lw=1)
    axes[1].scatter(r["compression"], y, c=compressing, zorder=3)
    axes[1].axvline(0, color="grey", lw=0.8, ls="--")
    axes[1].set_yticks(y, r["rater_id"], fontsize=8)
    axes[1].set_xlabel(label("压缩度 compression (1 − slope, 95 % interval)"))
    axes[1].set_title(label("平衡分 (compression; red: beyond chance)"), fontsize=10)
    units = fit.units.sort_values(["category", "adjusted"], ascending=[True, False])
    grid = fit.pairs.pivot(index="rater_id", columns="unit_id", values="z").reindex(
        index=r["rater_id"], columns=units["unit_id"])
    lim = float(np.nanmax(np.abs(grid.to_numpy()))) if grid.notna().any().any() else 1.0
    image = axes[2].imshow(grid.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                           interpolation="nearest", origin="lower")
    flagged = fit.pairs[fit.pairs["flagged"]]
    col = {u: k for k, u in enumerate(grid.columns)}
    row = {u: k for k, u in enumerate(grid.index)}
    axes[2].scatter([col[u] for u in flagged["unit_id"]], [row[x] for x in flagged["rater_id"]], s=30,
                    facecolors="none", edgecolors="black", linewidths=1, label="candidate favour")
    axes[2].set_yticks(y, r["rater_id"], fontsize=8)
    cats = units["category"].to_numpy()
    starts = [k for k in range(len(cats)) if k == 0 or cats[k] != cats[k - 1]]
    for k in starts[1:]:
        axes[2].axvline(k - 0.5, color="black", lw=0.6)
    axes[2].set_xticks(starts, [str(cats[k]) for k in starts], rotation=30, ha="left", fontsize=7)
    axes[2].set_xlabel(label("单位（按类别、调整后评分排序） units by category and adjusted rating"))
    axes[2].set_title(label("评分残差 z (rater x unit residuals; circled: candidate favours, 人情分)"),
                      fontsize=10)
    fig.colorbar(image, ax=axes[2], label="z")
    if len(flagged):
        axes[2].legend(fontsize=7, loc="lower right")
    fig.suptitle(label(f"评分人行为 rater behaviour ({fit.source}, {fit.year}; false-discovery rate {fit.alpha:g})"))
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"helps": "#2ca02c", "hurts": "#d62728", "undetermined": "#7f7f7f"}


def verdict_intervals(ax, rows, lw: float = 2, size: float = 40):
    """One row per scenario: its 90 % interval and median, coloured by verdict, a line at 0,
    the scenarios as labels. Returns the rows' y positions."""
    import numpy as np

    y = np.arange(len(rows))
    colours = [VERDICT_COLOURS[v] for v in rows["verdict"]]
    ax.hlines(y, rows["q05"], rows["q95"], colors=colours, lw=lw)
    ax.scatter(rows["median"], y, c=colours, zorder=3, s=size)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, rows["scenario"], fontsize=8)
    return y


def lever_forest(effects, base_name: str, worlds: int):
    """Left: each scenario's change of Kendall tau to the truth against the base, median
    and 90 % interval over the worlds, coloured by verdict. Right: the share of units whose
    rank changes (median and 90 % interval)."""
    import matplotlib.pyplot as plt

    setup_fonts()
    tau = effects[effects["metric"] == "delta_tau_truth"].sort_values("median")
    moved = effects[effects["metric"] == "share_moved"].set_index("scenario").reindex(tau["scenario"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.55 * len(tau) + 2.2), sharey=True,
                                      gridspec_kw={"width_ratios": [1.6, 1]})
    y = verdict_intervals(left, tau, lw=2, size=40)
    left.set_xlabel(label("与真实绩效的 Kendall τ 变化 change of tau to the truth (median, 90 % interval)"))
    left.set_title(label(f"效度 (validity against '{base_name}'; green helps, red hurts, grey undetermined)"),
                   fontsize=10)
    right.hlines(y, moved["q05"], moved["q95"], colors="#1f77b4", lw=2)
    right.scatter(moved["median"], y, color="#1f77b4", zorder=3, s=40)
    right.set_xlabel(label("名次变化的单位比例 share of units whose rank changes"))
    right.set_title(label("排名变动 (rank shifts)"), fontsize=10)
    fig.suptitle(label(f"评分人偏差的对策 levers against rater bias ({worlds} plausible worlds)"))
    fig.tight_layout()
    return fig


def efficiency_figure(eff, cost=None):
    """Left: each unit's CCR efficiency (data envelopment analysis on volume outputs) by
    category, the efficient ones marked (absent when no DEA was run). Right: budget per
    point of the total with its 90 % interval over the uncertainty draws, by category."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    panels = (eff is not None) + (cost is not None)
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 5), squeeze=False)
    if eff is not None:
        left = axes[0, 0]
        categories = sorted(eff["category"].unique())
        for k, category in enumerate(categories):
            part = eff[eff["category"] == category]
            jitter = np.linspace(-0.25, 0.25, len(part)) if len(part) > 1 else np.zeros(1)
            left.scatter(k + jitter, part["ccr"], s=18, color=np.where(part["efficient"], "#2ca02c", "#1f77b4"))
        left.set_xticks(range(len(categories)), categories, rotation=30, ha="right", fontsize=8)
        left.set_ylim(0, 1.05)
        left.set_xlabel(label("考核类别 (category)"))
        left.set_ylabel(label("综合效率 CCR efficiency (1 = on the frontier)"))
        left.set_title(label("数据包络分析 (DEA, input-oriented; green: efficient)"), fontsize=10)
    if cost is not None:
        right = axes[0, panels - 1]
        c = cost.sort_values(["category", "cost_per_point"]).reset_index(drop=True)
        y = np.arange(len(c))
        right.hlines(y, c["cost_q05"], c["cost_q95"], color="grey", lw=1)
        right.scatter(c["cost_per_point"], y, s=8, color="#d62728")
        starts = [k for k in range(len(c)) if k == 0 or c["category"][k] != c["category"][k - 1]]
        right.set_yticks(starts, [c["category"][k] for k in starts], fontsize=8)
        right.set_xscale("log")
        right.set_xlabel(label("每分成本（万元/分，对数） budget per point (10,000 yuan, log scale; 90 % interval)"))
        right.set_title(label("行政成本 (cost per point of the total)"), fontsize=10)
    fig.suptitle(label("行政效率和行政成本 (administrative efficiency and cost)"))
    fig.tight_layout()
    return fig


def verdict_figure(verdicts, ledger_table, source: str):
    """Left: each scenario's expected change of Kendall tau to the truth over the posterior
    (median and 90 % interval), coloured by verdict, with P(hurts). Right: the knobs that move
    each scenario's effect most (share of its variance over the posterior)."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    v = verdicts.sort_values("median").reset_index(drop=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 0.6 * len(v) + 2.4),
                                      gridspec_kw={"width_ratios": [1.4, 1]})
    y = verdict_intervals(left, v, lw=2.5, size=45)
    for k, row in v.iterrows():
        left.annotate(f"P(<0) {row['p_hurts']:.2f}", (row["q95"], k), xytext=(4, -3),
                      textcoords="offset points", fontsize=7)
    left.set_xlabel(label("与真实绩效的 Kendall τ 预期变化 expected change of tau to the truth "
                          "(posterior median, 90 % interval)"))
    left.set_title(label("效度结论 verdicts (green helps, red hurts, grey undetermined)"), fontsize=10)
    names = list(dict.fromkeys(ledger_table["knob"]))
    shares = ledger_table.pivot_table(index="scenario", columns="knob", values="share", aggfunc="first") \
        .reindex(index=v["scenario"], columns=names).fillna(0.0)
    image = right.imshow(shares.to_numpy(), aspect="auto", cmap="Oranges", vmin=0, vmax=1, origin="lower")
    right.set_yticks(y, v["scenario"], fontsize=8)
    right.set_xticks(np.arange(len(names)), names, rotation=35, ha="right", fontsize=7)
    for (i, j), value in np.ndenumerate(shares.to_numpy()):
        if value > 0:
            right.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=7)
    right.set_title(label("决定结论的假设 deciding assumptions (share of the effect's spread)"), fontsize=10)
    fig.colorbar(image, ax=right, fraction=0.04)
    _finish(fig, label(f"后验世界上的效度结论 validity verdicts over the posterior worlds ({source})"))
    return fig


def consequences_figure(steps, scheme_names):
    """Units reaching each step of the ladder as their highest, one group of bars per
    step and one bar per scheme (the counts written on the bars)."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    counts = steps.set_index("scheme").reindex(list(scheme_names))
    ladder = [c for c in counts.columns if c != "any step"]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(ladder) * max(len(scheme_names), 1) ** 0.5 + 3), 4.6))
    width = 0.8 / max(len(counts), 1)
    x = np.arange(len(ladder))
    for k, (name, row) in enumerate(counts.iterrows()):
        bars = ax.bar(x + (k - (len(counts) - 1) / 2) * width, row[ladder].to_numpy(dtype=float), width,
                      label=str(name), color=many_colours(len(counts))[k])
        ax.bar_label(bars, fmt="%d", fontsize=7)
    ax.set_xticks(x, [label(str(s)) for s in ladder], rotation=20, ha="right", fontsize=8)
    ax.set_xlabel(label("后果等级（单位触及的最高一级） step of the ladder (the highest a unit reaches)"))
    ax.set_ylabel(label("单位数 units"))
    integer_ticks(ax, "y")
    ax.set_title(label("各方案下触及每级后果的单位数 (units reaching each step, per scheme)"), fontsize=10)
    ax.legend(fontsize=8, title=label("方案 scheme"))
    fig.tight_layout()
    return fig


def moments_figure(moments):
    """Each moment the data give, with ±2 bootstrap standard errors (absent ones named)."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    have = moments.dropna(subset=["value"]).iloc[::-1]
    absent = moments[moments["value"].isna()]["moment"].tolist()
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(have), 3) + 1.6))
    y = np.arange(len(have))
    se = have["se"].fillna(0.0).to_numpy(dtype=float)
    ax.errorbar(have["value"], y, xerr=2 * se, fmt="o", color="#1f77b4", ecolor="grey", capsize=3)
    ax.set_yticks(y, have["moment"], fontsize=8)
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(label("数值（±2 标准误） value (±2 standard errors)"))
    ax.set_title(label(f"数据的矩 (moments of the data): {len(have)} 个可算 computed"
                       + (f", {len(absent)} 个缺 absent" if absent else "")), fontsize=10)
    fig.tight_layout()
    return fig


def lights_figure(progress, labels, period: str):
    """Per category, the unit-indicator targets by light (green, amber, red; not yet due
    left out), as stacked shares with the counts."""
    import matplotlib.pyplot as plt
    import numpy as np

    setup_fonts()
    judged = progress[progress["light"].isin(["green", "amber", "red"])]
    counts = judged.groupby(["category", "light"]).size().unstack(fill_value=0).reindex(
        columns=["green", "amber", "red"], fill_value=0)
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(counts), 3) + 1.6))
    left = np.zeros(len(counts))
    names = {"green": "绿灯 green (on schedule)", "amber": "黄灯 amber", "red": "红灯 red (behind)"}
    for light, colour in (("green", "#2ca02c"), ("amber", "#ffbf00"), ("red", "#d62728")):
        ax.barh(range(len(counts)), shares[light], left=left, color=colour, label=label(names[light]))
        for k, (v, n) in enumerate(zip(shares[light], counts[light])):
            if v > 0.06:
                ax.text(left[k] + v / 2, k, str(int(n)), ha="center", va="center", fontsize=8)
        left += shares[light].to_numpy()
    ax.set_yticks(range(len(counts)), [label(labels.get(c, c)) for c in counts.index])
    ax.set_xlim(0, 1)
    ax.set_xlabel(label("目标的份额（数字为个数） share of targets (numbers: counts)"))
    ax.set_title(label(f"截至 {period} 的进度灯 (progress lights at {period})"), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
