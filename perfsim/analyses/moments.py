"""Moments of a city's own data: what its tables say about the assumptions a verdict rests on.

:func:`data_moments` computes, from any dataset in the contract (the bundled world, an
office import, a real city) scored under a scheme, the statistics a synthetic world must
reproduce to stand for that city. Cross-sectional moments use one year (``year``, default
the latest) or every year pooled (``year="all"``); the year-to-year ones use consecutive
years up to it. Each comes with a bootstrap standard error over units (resampled within
their category, so every category keeps its size; ``boot`` replicates from ``seed``) and
its definition. Moments that cannot be computed (persistence with one year of data, an ICC
without a second rater) are rows with an empty value and the reason.

The names of the calibration moments (:data:`perfsim.analyses.calibration.MOMENTS`) are
computed exactly as :func:`perfsim.analyses.calibration.world_moments` computes them on a
synthetic world, so a city's values can stand in for the documented targets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import Tree, score_arrays
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, Scheme
from ..core.scheme import plain
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

#: the components whose agreement and persistence are measured: (name, leaf source)
COMPONENTS = (("leader", "leader_ratings"), ("satisfaction", "satisfaction"), ("targets", "indicator"))
COLUMNS = ["moment", "value", "se", "n", "years", "definition"]


@dataclass(frozen=True)
class UnitYear:
    """One year's per-unit arrays (units in a fixed order across years)."""

    year: int
    total: np.ndarray           # units
    grade: np.ndarray           # grade index, 0 best (-1 without grading)
    grades: int
    parts: dict                 # component -> unit score (fraction of full marks), NaN where absent
    leader_mean: np.ndarray     # the leader leaf's input (the unit's mean rating), NaN where none
    satisfaction: np.ndarray    # the satisfaction leaf's input
    subjective_points: np.ndarray   # leader + satisfaction points
    deduction: np.ndarray       # units: any deduction
    veto: np.ndarray


def _scheme(scheme: Scheme | Resolved) -> Scheme:
    return plain(scheme)


def _component(tree: Tree, source: str) -> int | None:
    """The top-level component all of whose leaves read ``source`` (None if there is none)."""
    for c in tree.children[0]:
        leaves = [i for i in tree.leaves if _under(tree, i, c)]
        if leaves and all(tree.leaf_source(i) == source for i in leaves):
            return c
    return None


def _under(tree: Tree, i: int, c: int) -> bool:
    while i >= 0:
        if i == c:
            return True
        i = tree.parent[i]
    return False


def _leaf_input(tree: Tree, s, source: str) -> np.ndarray:
    for j, i in enumerate(tree.leaves):
        if tree.leaf_source(i) == source:
            x = s.inputs.x[:, j].astype(float)
            return np.where(s.inputs.present[:, j], x, np.nan)
    return np.full(len(s.total), np.nan)


def unit_years(scheme: Scheme | Resolved, dataset: Dataset, years: Sequence[int]) -> tuple[pd.DataFrame, list[UnitYear]]:
    """(units: unit_id and category in a fixed order, one UnitYear per year)."""
    plain = _scheme(scheme)
    tree = Tree.of(plain)
    out, ids = [], None
    for year in years:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            s = score_arrays(plain, dataset, year)
        units = s.inputs.units.reset_index(drop=True)
        if ids is None:
            ids = units[["unit_id", "category"]].copy()
        order = pd.Index(units["unit_id"]).get_indexer(ids["unit_id"])
        if (order < 0).any():
            raise PerfsimError(f"the units of {year} differ from those of {years[0]}", where=dataset.origin)
        comps = {name: _component(tree, source) for name, source in COMPONENTS}
        parts = {name: (np.where(s.node_held[order, c] > 0, s.node_score[order, c].astype(float), np.nan)
                        if c is not None else np.full(len(order), np.nan)) for name, c in comps.items()}
        subjective = np.zeros(len(order))
        for name, _ in COMPONENTS[:2]:                  # the leader rating's and satisfaction's points
            if comps[name] is not None:
                subjective = subjective + s.node_points[order, comps[name]]
        grades = len(plain.grading.grades) if plain.grading else 0
        out.append(UnitYear(year, s.total[order].astype(float), (s.grade[order] if grades else np.full(len(order), -1)),
                            grades, parts, _leaf_input(tree, s, "leader_ratings")[order],
                            _leaf_input(tree, s, "satisfaction")[order], subjective,
                            (s.deduction[order] > 0), s.veto[order].astype(bool)))
    return ids.reset_index(drop=True), out


# --------------------------------------------------------------------------- statistics

def _within(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """x minus its group's mean (NaN kept)."""
    ok = ~np.isnan(x)
    sums = np.bincount(groups[ok], weights=x[ok], minlength=groups.max() + 1)
    counts = np.bincount(groups[ok], minlength=groups.max() + 1)
    means = np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0)
    return x - means[groups]


def within_sd(x: np.ndarray, groups: np.ndarray) -> float:
    """Root mean square of x about its group's mean (calibration's leader_sd_within)."""
    d = _within(x, groups)
    d = d[~np.isnan(d)]
    return float(np.sqrt(np.mean(d ** 2))) if len(d) else float("nan")


def within_corr(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Pearson correlation of x and y after removing each group's means (pooled within groups)."""
    ok = ~np.isnan(x) & ~np.isnan(y)
    if ok.sum() < 3:
        return float("nan")
    a, b = _within(np.where(ok, x, np.nan), groups)[ok], _within(np.where(ok, y, np.nan), groups)[ok]
    # no spread within groups: equal values leave rounding noise of about 1e-16 times their size
    if a.std() <= 1e-12 * max(1.0, np.abs(x[ok]).max()) or b.std() <= 1e-12 * max(1.0, np.abs(y[ok]).max()):
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of two short vectors from their pairwise signs (the same number as
    scipy.stats.kendalltau, without its per-call overhead: the bootstrap calls it thousands
    of times on categories of a few dozen units)."""
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), k=1)
    dx, dy = dx[upper], dy[upper]
    concordance = float(np.sum(dx * dy))
    denominator = np.sqrt(float(np.count_nonzero(dx)) * float(np.count_nonzero(dy)))
    return concordance / denominator if denominator > 0 else float("nan")


def within_tau(a: np.ndarray, b: np.ndarray, groups: np.ndarray, min_size: int = 3) -> float:
    """Kendall's tau-b between a and b within each group of at least ``min_size`` units with
    both values, n-weighted over the groups."""
    taus, sizes = [], []
    for g in np.unique(groups):
        cols = (groups == g) & ~np.isnan(a) & ~np.isnan(b)
        if cols.sum() >= min_size:
            tau = tau_b(a[cols], b[cols])
            if np.isfinite(tau):
                taus.append(tau)
                sizes.append(cols.sum())
    return float(np.average(taus, weights=sizes)) if taus else float("nan")


def persistence(a: np.ndarray, b: np.ndarray, groups: np.ndarray) -> float:
    """Kendall's tau-b between two years' values within each group (of at least 3), n-weighted."""
    return within_tau(a, b, groups, min_size=3)


def icc(matrix: np.ndarray) -> float:
    """ICC(2,1) of Shrout and Fleiss (1979): two-way random effects, absolute agreement,
    single rater, on a units x raters matrix without gaps (units with a gap are dropped)."""
    m = matrix[~np.isnan(matrix).any(axis=1)]
    n, k = m.shape if m.ndim == 2 else (0, 0)
    if n < 2 or k < 2:
        return float("nan")
    grand = m.mean()
    ss_rows = k * np.sum((m.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((m.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((m - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / denominator) if denominator > 0 else float("nan")


def _rating_matrix(frame: pd.DataFrame, year: int, ids: pd.Series, rater: str, value: str) -> np.ndarray:
    rows = frame[frame["year"].astype(int) == year]
    if not len(rows):
        return np.empty((len(ids), 0))
    wide = rows.pivot_table(index="unit_id", columns=rater, values=value, aggfunc="mean")
    return wide.reindex(ids).to_numpy(dtype=float)


# --------------------------------------------------------------------------- the moments

@dataclass(frozen=True)
class Moment:
    name: str
    definition: str
    needs: str                  # "year" (cross-section) or "pairs" (consecutive years)
    fn: Callable                # (sample, index) -> float


def _pool(sample: dict, index: np.ndarray, attr: str) -> tuple[np.ndarray, np.ndarray]:
    """One attribute over the cross-section years, stacked, with the groups."""
    values = np.concatenate([getattr(u, attr)[index] for u in sample["years"]])
    groups = np.concatenate([sample["groups"][index]] * len(sample["years"]))
    return values, groups


def _part(sample: dict, index: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate([u.parts[name][index] for u in sample["years"]])
    groups = np.concatenate([sample["groups"][index]] * len(sample["years"]))
    return values, groups


def _quantile(q: float) -> Callable:
    return lambda s, i: float(np.percentile(_pool(s, i, "total")[0], q))


def _share_lowest(s: dict, i: np.ndarray) -> float:
    if s["years"][0].grades == 0:
        return float("nan")
    grade, _ = _pool(s, i, "grade")
    return float(np.mean(grade == s["years"][0].grades - 1))


def _subjective_share(s: dict, i: np.ndarray) -> float:
    total, groups = _pool(s, i, "total")
    parts, _ = _pool(s, i, "subjective_points")
    ct, cp = _within(total, groups), _within(parts, groups)
    var = float(np.sum(ct ** 2))
    return float(np.sum(cp * ct) / var) if var > 0 else float("nan")


def _met(method: str) -> Callable:
    def fn(s: dict, i: np.ndarray) -> float:
        met, cells = s["met"].get(method, (None, None))
        if met is None:
            return float("nan")
        total = cells[i].sum()
        return float(met[i].sum() / total) if total else float("nan")
    return fn


def _corr(a: str, b: str) -> Callable:
    def fn(s: dict, i: np.ndarray) -> float:
        x, groups = _part(s, i, a)
        y, _ = _part(s, i, b)
        return within_corr(x, y, groups)
    return fn


def _persist(attr: str | None, part: str | None = None) -> Callable:
    def fn(s: dict, i: np.ndarray) -> float:
        pairs = s["pairs"]
        if not pairs:
            return float("nan")
        values = []
        for a, b in pairs:
            x = a.parts[part][i] if part else getattr(a, attr)[i]
            y = b.parts[part][i] if part else getattr(b, attr)[i]
            values.append(persistence(x, y, s["groups"][i]))
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return fn


def _icc(key: str) -> Callable:
    def fn(s: dict, i: np.ndarray) -> float:
        values = [icc(m[i]) for m in s[key]]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")
    return fn


def _flag(attr: str) -> Callable:
    return lambda s, i: float(np.mean(_pool(s, i, attr)[0]))


MOMENT_SPECS: tuple[Moment, ...] = (
    Moment("total_p10", "10th percentile of the units' totals", "year", _quantile(10)),
    Moment("total_p50", "median of the units' totals", "year", _quantile(50)),
    Moment("total_p90", "90th percentile of the units' totals", "year", _quantile(90)),
    Moment("share_lowest_grade", "share of units given the scheme's lowest grade", "year", _share_lowest),
    Moment("leader_sd_within", "standard deviation of the units' mean leader rating about its category mean",
           "year", lambda s, i: within_sd(*_pool(s, i, "leader_mean"))),
    Moment("satisfaction_sd_within", "standard deviation of the units' satisfaction score about its category mean",
           "year", lambda s, i: within_sd(*_pool(s, i, "satisfaction"))),
    Moment("subjective_share", "share of the within-category variance of the total carried by the leader "
           "rating and satisfaction points (cov(part, total) / var(total), category means removed)", "year",
           _subjective_share),
    Moment("self_target_met", "share of self-reported targets met (direction-aware, year-end actual)", "year",
           _met("self")),
    Moment("cascade_target_met", "share of cascaded targets met", "year", _met("cascade")),
    Moment("benchmark_target_met", "share of benchmark (peer) targets met", "year", _met("benchmark")),
    Moment("history_target_met", "share of history-based targets met", "year", _met("history")),
    Moment("deduction_share", "share of units with any deduction", "year", _flag("deduction")),
    Moment("veto_share", "share of units with a one-vote veto", "year", _flag("veto")),
    Moment("corr_within:leader~satisfaction", "Pearson correlation of the leader-rating and satisfaction "
           "component scores, category means removed", "year", _corr("leader", "satisfaction")),
    Moment("corr_within:leader~targets", "Pearson correlation of the leader-rating and target-completion "
           "component scores, category means removed", "year", _corr("leader", "targets")),
    Moment("corr_within:satisfaction~targets", "Pearson correlation of the satisfaction and target-completion "
           "component scores, category means removed", "year", _corr("satisfaction", "targets")),
    Moment("icc:leader_raters", "agreement among leader raters: ICC(2,1) (two-way random, absolute agreement, "
           "single rater) over units rated by every rater, averaged over the years", "year", _icc("leader_icc")),
    Moment("icc:satisfaction_groups", "agreement among satisfaction groups: ICC(2,1) over units surveyed in "
           "every group, averaged over the years", "year", _icc("group_icc")),
    Moment("persistence:total", "year-to-year rank persistence of the total: Kendall's tau-b between "
           "consecutive years within category, n-weighted, averaged over the pairs of years", "pairs",
           _persist("total")),
    Moment("persistence:leader", "year-to-year rank persistence of the leader-rating component score", "pairs",
           _persist(None, "leader")),
    Moment("persistence:satisfaction", "year-to-year rank persistence of the satisfaction component score",
           "pairs", _persist(None, "satisfaction")),
    Moment("persistence:targets", "year-to-year rank persistence of the target-completion component score",
           "pairs", _persist(None, "targets")),
)


def _met_counts(dataset: Dataset, ids: pd.Series, years: Sequence[int]) -> dict:
    """Per target source: (met count per unit, targets per unit) over ``years``."""
    from ..core.engine import year_end_actuals

    lower = set(dataset.indicators.loc[dataset.indicators["direction"] == "lower", "indicator_id"])
    frames = []
    for year in years:
        t = dataset.targets[dataset.targets["year"].astype(int) == year]
        a = year_end_actuals(dataset, year)[["unit_id", "indicator_id", "value"]]
        frames.append(t.merge(a, on=["unit_id", "indicator_id"], how="inner"))
    cells = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = {}
    if not len(cells):
        return out
    low = cells["indicator_id"].isin(lower).to_numpy()
    met = np.where(low, cells["value"] <= cells["target"], cells["value"] >= cells["target"])
    position = pd.Index(ids).get_indexer(cells["unit_id"])
    for method in ("self", "cascade", "benchmark", "history"):
        mine = (cells["method"] == method).to_numpy() & (position >= 0)
        if mine.any():
            out[method] = (np.bincount(position[mine], weights=met[mine].astype(float), minlength=len(ids)),
                           np.bincount(position[mine], minlength=len(ids)).astype(float))
    return out


def _why_absent(spec: Moment, sample: dict) -> str:
    if spec.name.endswith("_target_met"):
        method = spec.name.removesuffix("_target_met")
        return f"no {method} targets with a year-end actual" if method not in sample["met"] else "no cells"
    if spec.name.startswith("icc:"):
        return ("no ratings" if not sample["leader_icc" if "leader" in spec.name else "group_icc"]
                else "fewer than 2 raters rate the same 2 units")
    if spec.name.startswith("corr_within:"):
        return "a component the scheme does not have, or too few units with both"
    if spec.name == "share_lowest_grade":
        return "the scheme has no grading"
    return "the data do not allow it"


def data_moments(scheme: Scheme | Resolved, dataset: Dataset, year: int | str | None = None, boot: int = 200,
                 seed: int = 0) -> pd.DataFrame:
    """Every moment of :data:`MOMENT_SPECS` on ``dataset`` (see the module docstring):
    ``moment, value, se, n, years, definition``."""
    available = dataset.years
    if not available:
        raise PerfsimError("the data have no year with targets or actuals", where=dataset.origin)
    if year in (None, "", 0):
        cross = [available[-1]]
    elif year == "all":
        cross = list(available)
    else:
        if int(year) not in available:
            raise PerfsimError(f"no data for {year} (years: {', '.join(map(str, available))})", where=dataset.origin)
        cross = [int(year)]
    history = [y for y in available if y <= cross[-1]]
    ids, per_year = unit_years(scheme, dataset, history)
    by_year = dict(zip(history, per_year))
    groups = pd.factorize(ids["category"], sort=True)[0].astype(np.int64)
    consecutive = [(by_year[a], by_year[b]) for a, b in zip(history, history[1:]) if b - a == 1]
    sample = {"years": [by_year[y] for y in cross], "pairs": consecutive, "groups": groups,
              "met": _met_counts(dataset, ids["unit_id"], cross),
              "leader_icc": [_rating_matrix(dataset.leader_ratings, y, ids["unit_id"], "rater_id", "rating")
                             for y in cross] if dataset.has("leader_ratings") else [],
              "group_icc": [_rating_matrix(dataset.satisfaction, y, ids["unit_id"], "group", "score")
                            for y in cross] if dataset.has("satisfaction") else []}
    return _table(sample, consecutive, ids, cross, history, boot, seed)


def _table(sample: dict, consecutive: list, ids: pd.DataFrame, cross: Sequence[int], history: Sequence[int],
           boot: int, seed: int) -> pd.DataFrame:
    groups = sample["groups"]
    everyone = np.arange(len(ids))
    rng = np.random.default_rng(seed)
    strata = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    draws = [np.concatenate([rng.choice(s, size=len(s), replace=True) for s in strata]) for _ in range(boot)]
    rows = []
    for spec in MOMENT_SPECS:
        used = cross if spec.needs == "year" else sorted({y for p in consecutive for y in (p[0].year, p[1].year)})
        if spec.needs == "pairs" and not consecutive:
            rows.append({"moment": spec.name, "value": np.nan, "se": np.nan, "n": len(ids), "years": "",
                         "definition": f"{spec.definition} (absent: needs at least 2 consecutive years; the data "
                                       f"have {', '.join(map(str, history))})"})
            continue
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = spec.fn(sample, everyone)
            reps = np.array([spec.fn(sample, d) for d in draws], dtype=float) if np.isfinite(value) else np.array([])
        reps = reps[np.isfinite(reps)]
        se = float(reps.std(ddof=1)) if len(reps) > 1 else np.nan
        definition = spec.definition
        if not np.isfinite(value):
            definition += f" (absent: {_why_absent(spec, sample)})"
        rows.append({"moment": spec.name, "value": float(value) if np.isfinite(value) else np.nan, "se": se,
                     "n": len(ids), "years": " ".join(map(str, used)), "definition": definition})
    return pd.DataFrame(rows, columns=COLUMNS)


def world_sample(world, scheme: Scheme | Resolved, datasets: dict | None = None
                 ) -> tuple[dict, list, pd.DataFrame, list[int], list[int]]:
    """What :func:`data_moments` measures, built straight from a synthetic world's arrays
    (every year of the world; the cross-section is its last year): the same statistics
    without writing and validating tables, for the thousands of worlds of a reference table.
    ``datasets``: a dict that keeps each year's in-memory dataset for the caller's reuse."""
    from ..sources.synth import world_dataset

    plain = _scheme(scheme)
    per_year, ids = [], None
    for y in world.years:
        if datasets is not None and y.year not in datasets:
            datasets[y.year] = world_dataset(world, y.year)
        dataset = datasets[y.year] if datasets is not None else world_dataset(world, y.year)
        these, (unit_year,) = unit_years(plain, dataset, [y.year])
        if ids is None:
            ids = these
        elif not these["unit_id"].equals(ids["unit_id"]):
            raise PerfsimError(f"the units of {y.year} differ from those of the first year")
        per_year.append(unit_year)
    groups = pd.factorize(ids["category"], sort=True)[0].astype(np.int64)
    position = pd.Index(world.structure.ids).get_indexer(ids["unit_id"])
    last = world.last
    has = ~np.isnan(last.target) & ~np.isnan(last.actual)
    lower = world.structure.lower[None, :]
    with np.errstate(invalid="ignore"):
        met = has & np.where(lower, last.actual <= last.target, last.actual >= last.target)
    met_counts = {}
    for code, method in enumerate(world.methods):
        mine = has & (last.method == code)
        if mine.any():
            met_counts[str(method)] = ((met & mine).sum(axis=1)[position].astype(float),
                                       mine.sum(axis=1)[position].astype(float))
    consecutive = [(a, b) for a, b in zip(per_year, per_year[1:]) if b.year - a.year == 1]
    sample = {"years": [per_year[-1]], "pairs": consecutive, "groups": groups, "met": met_counts,
              "leader_icc": [last.leader.T[position]], "group_icc": [last.sat_score[position]]}
    return sample, consecutive, ids, [last.year], [y.year for y in world.years]


def world_data_moments(world, scheme: Scheme | Resolved, datasets: dict | None = None) -> dict[str, float]:
    """Every moment of :data:`MOMENT_SPECS` on a synthetic world (see :func:`world_sample`),
    without standard errors: {moment: value}, NaN where it cannot be computed."""
    table = _table(*world_sample(world, scheme, datasets), boot=0, seed=0)
    return dict(zip(table["moment"], table["value"].astype(float)))


def analysis(scheme: Scheme | Resolved, dataset: Dataset, *, year: int | str | None = None, seed: int = DEFAULT_SEED,
             boot: int = 200) -> "Result":
    """The protocol's moments analysis (see :mod:`perfsim.analyses.result`): the data's
    moments with bootstrap standard errors; a moment the data cannot give is said, not hidden."""
    from ..core.scheme import as_resolved
    from .result import Chart, Result, both

    scheme = as_resolved(scheme)
    table = data_moments(scheme, dataset, year, boot=boot, seed=seed)
    absent = table[table["value"].isna()]
    if len(absent):
        warnings.warn(f"{len(absent)} moment(s) cannot be computed from these data: "
                      + "; ".join(f"{r.moment} ({r.definition.rsplit('(absent: ', 1)[-1].rstrip(')')})"
                                  for r in absent.itertuples()), PerfsimWarning, stacklevel=2)
    have = table.dropna(subset=["value"])
    facts = {"scheme": scheme.name, "moments": int(len(table)), "computed": int(len(have)),
             "absent": absent["moment"].tolist(), "boot": boot,
             "values": {r.moment: float(r.value) for r in have.itertuples()}}
    zh = (f"在方案「{scheme.name}」下，从数据算得 {len(have)} / {len(table)} 个矩（标准误来自类别内按单位的 "
          f"{boot} 次自助抽样）。这些矩是合成世界与城市数据相对照的依据。"
          + (f"无法从数据算出的矩：{'、'.join(absent['moment'])}。" if len(absent) else ""))
    en = (f"Under '{scheme.name}', {len(have)} of {len(table)} moments are computed from the data (standard errors "
          f"from {boot} bootstrap replicates over units within category). They are what the synthetic worlds are "
          "held against." + (f" Not computable from these data: {', '.join(absent['moment'])}." if len(absent) else ""))
    return Result(
        "moments", both("数据的矩", "Moments of the data"), tables={"moments": table},
        figures={"moments": Chart("moments", ("moments",), both("各矩的值与 ±2 标准误", "Each moment with ±2 SE"))},
        facts=facts, texts=both(zh, en), scenarios={"scheme": scheme},
        shown=(("moments", "矩、标准误与定义", "Moments, standard errors and definitions"),))
