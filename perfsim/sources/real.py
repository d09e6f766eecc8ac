"""Loaders that put real published index data into the data contract.

These prove that the one scheme engine is general: the UNDP Human Development Index is
scored by ``params/real/hdi.yaml`` through exactly the code that scores the city.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.contract import Dataset, empty_table, validate_frames
from ..core.errors import PerfsimError
from ..core.paths import REAL_DIR

HDI_COMPONENTS = {
    "le": ("Life expectancy at birth", "health", "years"),
    "eys": ("Expected years of schooling", "education", "years"),
    "mys": ("Mean years of schooling", "education", "years"),
    "gnipc": ("GNI per capita (2017 PPP $)", "income", "2017 PPP $"),
}
HDI_FILES = {
    "hdr21-22": REAL_DIR / "undp_hdr21-22_composite_indices_complete_time_series.csv",
    "hdr23-24": REAL_DIR / "undp_hdr23-24_composite_indices_complete_time_series.csv",
}


def read_undp(path: str | Path) -> pd.DataFrame:
    """Read a UNDP 'composite indices complete time series' file (UTF-8 or Latin-1)."""
    path = Path(path)
    if not path.exists():
        raise PerfsimError("file not found", where=path)
    try:
        return pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="latin-1")


def rank_year(frame: pd.DataFrame, path: str | Path = "<frame>") -> int:
    """The edition's headline year, from its ``hdi_rank_YYYY`` column."""
    years = [int(m.group(1)) for c in frame.columns if (m := re.fullmatch(r"hdi_rank_(\d{4})", c))]
    if not years:
        raise PerfsimError("no hdi_rank_YYYY column: not a UNDP composite-indices file", where=path)
    return max(years)


def hdi_dataset(path: str | Path, year: int | None = None) -> tuple[Dataset, pd.DataFrame]:
    """The countries of one UNDP file as a Dataset, plus the published HDI and rank.

    Units are the countries (3-letter iso3; aggregates such as ``ZZK.WORLD`` are left
    out) that have all four components in ``year``; their single category is ``world``.
    Actuals carry period ``YEAR-12``. The second frame has ``unit_id, hdi, hdi_rank,
    hdicode`` as published (rank and group only for the headline year).
    """
    raw = read_undp(path)
    headline = rank_year(raw, path)
    year = headline if year is None else year
    cols = [f"{c}_{year}" for c in HDI_COMPONENTS]
    missing = [c for c in cols if c not in raw.columns]
    if missing:
        raise PerfsimError(f"no columns {missing} for year {year}", where=path)
    countries = raw[raw["iso3"].astype(str).str.fullmatch(r"[A-Z]{3}")]
    countries = countries.dropna(subset=cols)
    units = pd.DataFrame({
        "unit_id": countries["iso3"], "name": countries["country"], "name_en": countries["country"],
        "kind": "country", "category": "world", "district_type": np.nan,
        "staff": np.nan, "budget": np.nan, "consumption": np.nan,
    })
    indicators = pd.DataFrame([{
        "indicator_id": k, "name": v[0], "name_en": v[0], "dimension": v[1],
        "direction": "higher", "unit_of_measure": v[2], "kind": "continuing",
        "frequency": "annual", "visibility": "visible"} for k, v in HDI_COMPONENTS.items()])
    actuals = countries.melt(id_vars=["iso3"], value_vars=cols, var_name="column", value_name="value")
    actuals = pd.DataFrame({"period": f"{year}-12", "unit_id": actuals["iso3"],
                            "indicator_id": actuals["column"].str.rsplit("_", n=1).str[0],
                            "value": actuals["value"].map(repr)})
    dataset = validate_frames(
        {"units": units, "indicators": indicators, "targets": empty_table("targets"),
         "actuals": actuals},
        sources={"units": f"{path}", "actuals": f"{path}"}, origin=str(path), kinds=("country",))
    published = pd.DataFrame({
        "unit_id": countries["iso3"].to_numpy(),
        "hdi": countries[f"hdi_{year}"].to_numpy(dtype=float),
        "hdi_rank": countries[f"hdi_rank_{year}"].to_numpy(dtype=float) if year == headline
        else np.nan,
        "hdicode": countries["hdicode"].to_numpy() if year == headline else None,
    })
    return dataset, published


ASEM_DIR = REAL_DIR / "asem"


def asem_dataset(folder: str | Path = ASEM_DIR) -> Dataset:
    """COINr's ASEM example (51 countries, 49 indicators) in the data contract.

    Units are the countries (one category, ``ASEM``; their kind is COINr's
    ``EurAsia_group``, Asia or Europe, the group COINr imputes by); indicators are the
    level-1 rows of ``ASEM_iMeta.csv`` with their direction, plus the four denominators
    (Area, Energy, GDP, Population; dimension ``denominator``) that ``divide_by`` refers
    to; actuals are the raw values of ``ASEM_iData.csv`` (period ``<Time>-12``; missing
    values are left out, so the scheme's missing rule applies).
    """
    folder = Path(folder)
    data = pd.read_csv(folder / "ASEM_iData.csv")
    meta = pd.read_csv(folder / "ASEM_iMeta.csv")
    ind = meta[meta["Type"].isin(["Indicator", "Denominator"])]
    units = pd.DataFrame({"unit_id": data["uCode"], "name": data["uName"], "name_en": data["uName"],
                          "kind": data["EurAsia_group"], "category": "ASEM", "district_type": np.nan,
                          "staff": np.nan, "budget": np.nan, "consumption": np.nan})
    denominator = (ind["Type"] == "Denominator").to_numpy()
    indicators = pd.DataFrame({
        "indicator_id": ind["iCode"], "name": ind["iName"].fillna(ind["iCode"]),
        "name_en": ind["iName"].fillna(ind["iCode"]),
        "dimension": np.where(denominator, "denominator", ind["Parent"]),
        "direction": np.where(ind["Direction"] < 0, "lower", "higher"),
        "unit_of_measure": ind["Unit"], "kind": "continuing", "frequency": "annual",
        "visibility": "visible"})
    long = data.melt(id_vars=["uCode", "Time"], value_vars=list(ind["iCode"]),
                     var_name="indicator_id", value_name="value").dropna(subset=["value"])
    actuals = pd.DataFrame({"period": long["Time"].astype(int).astype(str) + "-12",
                            "unit_id": long["uCode"], "indicator_id": long["indicator_id"],
                            "value": long["value"].map(repr)})
    return validate_frames({"units": units, "indicators": indicators,
                            "targets": empty_table("targets"), "actuals": actuals},
                           sources={"units": str(folder / "ASEM_iData.csv"),
                                    "indicators": str(folder / "ASEM_iMeta.csv"),
                                    "actuals": str(folder / "ASEM_iData.csv")},
                           origin=str(folder), kinds=("Asia", "Europe"))


def asem_scheme_yaml(folder: str | Path = ASEM_DIR, leaf: str = "rule: minmax") -> str:
    """The ASEM tree of ``ASEM_iMeta.csv`` as the ``children:`` of a perfsim scheme (used to
    write params/real/asem*.yaml); ``leaf`` is each leaf's rule and options, and
    ``{denominator}`` in it is replaced by ``, divide_by: <the indicator's denominator>``
    (or by nothing)."""
    meta = pd.read_csv(Path(folder) / "ASEM_iMeta.csv")
    meta = meta[meta["Type"].isin(["Indicator", "Aggregate"])]
    denominators = dict(zip(meta["iCode"], meta["Denominator"]))
    children: dict[str, list[str]] = {}
    for _, row in meta.iterrows():
        if isinstance(row["Parent"], str):
            children.setdefault(row["Parent"], []).append(row["iCode"])
    names = dict(zip(meta["iCode"], meta["iName"]))
    lines = []

    def emit(code: str, depth: int) -> None:
        pad = "  " * depth
        kids = children.get(code, [])
        if kids:
            lines.append(f"{pad}{code}:")
            lines.append(f"{pad}  label: \"{names[code]}\"")
            lines.append(f"{pad}  weight: 1")
            lines.append(f"{pad}  children:")
            for k in kids:
                emit(k, depth + 2)
        else:
            den = denominators.get(code)
            options = leaf.replace("{denominator}", f", divide_by: {den}" if isinstance(den, str) else "")
            lines.append(f"{pad}{code}: {{{options}, weight: 1, label: \"{names[code]}\"}}")

    for top in children["Index"]:
        emit(top, 2)
    return "\n".join(lines)


# --------------------------------------------------------------------------- EPI 2020

EPI_DIR = REAL_DIR / "epi2020"
EPI_FILES = {"results": "epi2020_results_20200604.csv", "weights": "epi2020_weights.csv",
             "countries": "epi2020_country_attributes_20200604.csv"}


def _epi_tables(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    missing = [name for name in EPI_FILES.values() if not (folder / name).exists()]
    if missing:
        raise PerfsimError(f"EPI 2020 files missing: {', '.join(missing)}", where=str(folder))
    return tuple(pd.read_csv(folder / EPI_FILES[k]) for k in ("results", "weights", "countries"))


def epi_dataset(folder: str | Path = EPI_DIR) -> Dataset:
    """The 2020 Environmental Performance Index (180 countries, 32 indicators) in the data contract.

    Units are the countries in the index (``include == 1``), all in one category ``EPI``;
    their kind is ``landlocked`` or ``coastal`` (the ``SEA`` attribute), which the scheme's
    materiality rule uses. Actuals are the published indicator scores (0-100, period
    ``2020-12``); missing scores are left out, so the scheme averages over the indicators
    present, as the EPI does. Published issue-category, objective and EPI scores and ranks
    are not inputs: :func:`epi_published` returns them for comparison.
    """
    results, weights, countries = _epi_tables(folder)
    ind = weights[weights["Type"] == "Indicator"]
    sea = countries.set_index("iso")["SEA"]
    units = pd.DataFrame({"unit_id": results["iso"], "name": results["country"], "name_en": results["country"],
                          "kind": np.where(results["iso"].map(sea) == 1, "landlocked", "coastal"),
                          "category": "EPI", "district_type": np.nan, "staff": np.nan, "budget": np.nan,
                          "consumption": np.nan})
    indicators = pd.DataFrame({
        "indicator_id": ind["Abbreviation"], "name": ind["Variable"].str.strip(),
        "name_en": ind["Variable"].str.strip(), "dimension": ind["NextLevel"], "direction": "higher",
        "unit_of_measure": "score 0-100", "kind": "continuing", "frequency": "annual",
        "visibility": "visible"})
    long = results.melt(id_vars=["iso"], value_vars=[f"{c}.new" for c in ind["Abbreviation"]],
                        var_name="column", value_name="value").dropna(subset=["value"])
    actuals = pd.DataFrame({"period": "2020-12", "unit_id": long["iso"],
                            "indicator_id": long["column"].str.removesuffix(".new"),
                            "value": long["value"].map(repr)})
    folder = Path(folder)
    return validate_frames({"units": units, "indicators": indicators,
                            "targets": empty_table("targets"), "actuals": actuals},
                           sources={"units": str(folder / EPI_FILES["results"]),
                                    "indicators": str(folder / EPI_FILES["weights"]),
                                    "actuals": str(folder / EPI_FILES["results"])},
                           origin=str(folder), kinds=("coastal", "landlocked"))


def epi_published(folder: str | Path = EPI_DIR) -> pd.DataFrame:
    """Published scores (``<code>``) and ranks (``<code>_rank``) of the EPI, its policy
    objectives and issue categories, one row per country (index: iso)."""
    results, weights, _ = _epi_tables(folder)
    codes = weights.loc[weights["Type"] != "Indicator", "Abbreviation"].tolist()
    out = results.set_index("iso")[[f"{c}.new" for c in codes] + [f"{c}.rnk.new" for c in codes]]
    return out.rename(columns={**{f"{c}.new": c for c in codes}, **{f"{c}.rnk.new": f"{c}_rank" for c in codes}})


def epi_scheme_yaml(folder: str | Path = EPI_DIR) -> str:
    """The EPI tree of ``epi2020_weights.csv`` as the ``tree:`` block of a perfsim scheme
    (used to write params/real/epi.yaml): weights as published, indicator scores taken as
    they are (goalposts 0 and 100), nodes with the ``SEA`` materiality filter applying to
    coastal countries only."""
    _, weights, _ = _epi_tables(folder)
    children: dict[str, list[dict]] = {}
    for row in weights.to_dict("records"):
        if isinstance(row["NextLevel"], str):
            children.setdefault(row["NextLevel"], []).append(row)
    lines = ["tree:", '  label: "Environmental Performance Index"', "  points: 100", "  basis: grounded",
             "  children:"]

    def emit(row: dict, depth: int) -> None:
        pad = "  " * depth
        code, label, weight = row["Abbreviation"], str(row["Variable"]).strip(), f"{row['Weight']:g}"
        applies = ", applies_to: {kind: [coastal]}" if row["MaterialityFilter"] == "SEA" else ""
        if code in children:
            lines.append(f"{pad}{code}:")
            lines.append(f'{pad}  label: "{label}"')
            lines.append(f"{pad}  weight: {weight}")
            if applies:
                lines.append(f"{pad}  applies_to: {{kind: [coastal]}}")
            lines.append(f"{pad}  children:")
            for kid in children[code]:
                emit(kid, depth + 2)
        else:
            lines.append(f'{pad}{code}: {{rule: goalpost, lo: 0, hi: 100, weight: {weight}{applies}, '
                         f'label: "{label}"}}')

    for top in children["EPI"]:
        emit(top, 2)
    return "\n".join(lines)


def published_index(path: str | Path) -> Dataset | None:
    """The dataset of a bundled real index given by its folder or file, else None: a folder
    with ``ASEM_iData.csv`` (COINr's ASEM), a folder with the 2020 EPI files, or a UNDP HDR
    composite-indices CSV (scored for its latest year)."""
    path = Path(path)
    if path.is_dir():
        if (path / "ASEM_iData.csv").exists() and (path / "ASEM_iMeta.csv").exists():
            return asem_dataset(path)
        if (path / EPI_FILES["results"]).exists():
            return epi_dataset(path)
    elif path.suffix.lower() == ".csv" and re.search(r"composite_indices", path.name, re.IGNORECASE):
        return hdi_dataset(path)[0]
    return None
