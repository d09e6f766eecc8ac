"""The rater model as files a person reads: raters.csv, pairs.csv, units.csv, the figure
raters.png, raters.json and raters.html (sentences filled from the numbers)."""

from __future__ import annotations

import html
from pathlib import Path

from ..analyses.raters import PAIR_COLUMNS, RATER_COLUMNS, RaterFit, raters_text
from ..core.files import OutputSet
from .pages import CSS, html_table


def write_raters(fit: RaterFit, out: str | Path, origin: str = "") -> list[Path]:
    """Every file of ``perfsim raters``, all or nothing."""
    import matplotlib.pyplot as plt

    from .plotting import raters_figure

    figure = raters_figure(fit)
    text = raters_text(fit)
    flagged = fit.raters[fit.raters["flagged"]]
    favours = fit.pairs[fit.pairs["flagged"]].sort_values("z", ascending=False)
    with OutputSet(out) as outputs:
        outputs.csv(fit.raters[RATER_COLUMNS], "raters.csv")
        outputs.csv(fit.pairs[PAIR_COLUMNS], "pairs.csv")
        outputs.csv(fit.units, "units.csv")
        figure.savefig(outputs.path("raters.png"), dpi=110)
        plt.close(figure)
        outputs.json({"source": fit.source, "year": fit.year, "alpha": fit.alpha, "data": origin,
                      "raters": len(fit.raters), "flagged_raters": flagged["rater_id"].tolist(),
                      "reasons": dict(zip(flagged["rater_id"], flagged["reason"])),
                      "pairs": len(fit.pairs), "flagged_pairs": int(len(favours)), "text": text}, "raters.json")
        outputs.text(f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>评分人行为 rater behaviour · {html.escape(origin)}</title><style>{CSS}</style></head><body>
<h1>评分人行为 <span class='en'>(rater behaviour: leniency, 平衡分, 人情分)</span></h1>
<p class='meta'>数据 data: {html.escape(origin)} · {html.escape(fit.source)} · 年度 year: {fit.year} ·
false-discovery rate {fit.alpha:g}</p>
<p class='headline'>{html.escape(text)}</p>
<a href="raters.png"><img src="raters.png" style="max-width:100%"></a>
<h2>评分人 (raters)</h2>{html_table(fit.raters)}
<h2>候选人情分 (candidate favours: ratings above what the model expects)</h2>{html_table(favours)}
<h2>单位 (units: raw mean and the rating an average rater would give)</h2>{html_table(fit.units)}
<p class='meta'>Model: rating = unit effect + rater leniency + residual (two-way fixed effects, statsmodels OLS);
compression = 1 − the slope of a rater's ratings on the other raters' consensus, corrected for the consensus's
noise; favours: one-sided residual z-scores per rater, Benjamini-Hochberg over all pairs. A flag is a reason to
ask, not proof. Files: raters.csv, pairs.csv, units.csv, raters.png, raters.json.</p>
</body></html>
""", "raters.html")
    return [Path(out) / n for n in outputs.names]
