"""Use of results (结果运用) as declared rules: the accountability ladder and awards.

A rules file (``params/consequences.yaml``) lists the ladder's steps, lowest first, and
rules: each names one condition (a grade, deduction items with an optional least number
of points, a one-vote veto, the last places of a category, or a least total of
deduction points) and the step it leads to, with its basis. :func:`consequences` scores a
scheme, applies every rule to every unit, and gives each unit the highest step any rule
reaches, the rules that fired, and its excellent-civil-servant awards (the grade shares
of ``params/tracking.yaml``). :func:`compare_consequences` puts several schemes side by
side: how many units reach each step under each, and which units change step.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.contract import Dataset
from ..core.engine import check_fit, score
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import PARAMS_DIR
from ..core.scheme import Resolved, pydantic_error
from ..core.yamlio import load_yaml
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

RULES = PARAMS_DIR / "consequences.yaml"
CONDITIONS = ("grades", "deduction_items", "veto", "rank_from_bottom", "deductions_at_least")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    label: str
    step: str
    basis: Literal["grounded", "assumption"]
    note: str | None = None
    grades: list[str] | None = None
    deduction_items: list[str] | None = None
    min_points: float | None = Field(default=None, gt=0)
    veto: bool | None = None
    rank_from_bottom: int | None = Field(default=None, ge=1)
    deductions_at_least: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_condition(self) -> "Rule":
        given = [c for c in CONDITIONS if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError(f"a rule has exactly one condition of {', '.join(CONDITIONS)} (got "
                             f"{', '.join(given) or 'none'})")
        if self.min_points is not None and self.deduction_items is None:
            raise ValueError("min_points is used only with deduction_items")
        if self.veto is False:
            raise ValueError("veto: a rule fires on a veto (veto: true)")
        return self


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    steps: list[str] = Field(min_length=1)
    steps_en: list[str] | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps(self) -> "Rules":
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("steps must be distinct")
        if self.steps_en is not None and len(self.steps_en) != len(self.steps):
            raise ValueError("steps_en must name every step")
        for k, rule in enumerate(self.rules):
            if rule.step not in self.steps:
                raise ValueError(f"'rules.{k}.step': {rule.step!r} is not one of the steps ({', '.join(self.steps)})")
        return self


def load_rules(path: str | Path | None = None) -> Rules:
    path = Path(path) if path is not None else RULES
    raw = load_yaml(path)
    try:
        return Rules.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, str(path)) from None


def _check_rules(rules: Rules, scheme: Resolved, where: str) -> None:
    grades = list(scheme.scheme.grading.grades) if scheme.scheme.grading else []
    items = scheme.scheme.adjustments.deduction.items
    for k, rule in enumerate(rules.rules):
        for grade in rule.grades or []:
            if grade not in grades:
                raise PerfsimError(f"key 'rules.{k}.grades': {grade!r} is not a grade of scheme "
                                   f"'{scheme.name}' ({', '.join(grades) or 'no grades'})", where=where)
        if items is not None:
            for item in rule.deduction_items or []:
                if item not in items:
                    raise PerfsimError(f"key 'rules.{k}.deduction_items': {item!r} is not a deduction item of "
                                       f"scheme '{scheme.name}' ({', '.join(items)})", where=where)


def consequences(scheme: Resolved, dataset: Dataset, rules: Rules, year: int | None = None,
                 awards: Mapping[str, float] | None = None, quota: int | None = None,
                 where: str = str(RULES)) -> pd.DataFrame:
    """Per unit: total, rank, grade, the highest ladder step reached (``step``, its level
    1.. from the lowest, 0 for none), the rules that fired and, with ``awards`` (grade ->
    share) and ``quota``, the awards."""
    from .tracking import award_allocation

    _check_rules(rules, scheme, where)
    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        table = score(scheme, dataset, year)
    adj = dataset.adjustments
    adj = adj[adj["year"] == year] if len(adj) else adj
    deductions = adj[adj["type"] == "deduction"] if len(adj) else adj
    by_item = (deductions.groupby(["unit_id", "item"])["points"].sum().unstack(fill_value=0.0)
               if len(deductions) else pd.DataFrame(index=pd.Index([], name="unit_id")))
    by_item = by_item.reindex(table["unit_id"]).fillna(0.0)
    size = table.groupby("category")["rank"].transform("size").to_numpy()
    level = np.zeros(len(table), dtype=int)
    fired: list[list[str]] = [[] for _ in range(len(table))]
    for rule in rules.rules:
        if rule.grades is not None:
            hit = table["grade"].isin(rule.grades).to_numpy()
        elif rule.deduction_items is not None:
            cols = [c for c in rule.deduction_items if c in by_item.columns]
            points = by_item[cols].to_numpy()
            hit = (points >= (rule.min_points or 1e-12)).any(axis=1) if cols else np.zeros(len(table), bool)
        elif rule.veto:
            hit = table["veto"].astype(bool).to_numpy()
        elif rule.rank_from_bottom is not None:
            hit = table["rank"].to_numpy() > size - rule.rank_from_bottom
        else:
            hit = table["deduction"].to_numpy() >= rule.deductions_at_least
        step = rules.steps.index(rule.step) + 1
        level = np.where(hit, np.maximum(level, step), level)
        for k in np.flatnonzero(hit):
            fired[k].append(rule.label)
    out = table[["unit_id", "name", "category", "total", "rank", "grade"]].copy()
    out["step_level"] = level
    out["step"] = [rules.steps[v - 1] if v else "" for v in level]
    out["triggers"] = ["; ".join(f) for f in fired]
    if awards is not None and quota is not None:
        out["awards"] = award_allocation(table, dataset, awards, quota)["awards"].to_numpy()
    return out


def compare_consequences(tables: Mapping[str, pd.DataFrame], steps: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts: scheme x step, the units reaching each step as their highest, and awards;
    changes: units whose step differs from the first scheme's)."""
    names = list(tables)
    counts = pd.DataFrame({name: t["step"].value_counts().reindex(steps, fill_value=0) for name, t in tables.items()}).T
    counts["any step"] = [int((t["step_level"] > 0).sum()) for t in tables.values()]
    first = tables[names[0]].set_index("unit_id")
    rows = []
    for name in names[1:]:
        other = tables[name].set_index("unit_id").reindex(first.index)
        changed = other["step_level"] != first["step_level"]
        for unit in first.index[changed]:
            rows.append({"scheme": name, "unit_id": unit, "name": first.loc[unit, "name"],
                         "category": first.loc[unit, "category"], f"step_{names[0]}": first.loc[unit, "step"],
                         "step": other.loc[unit, "step"], "triggers": other.loc[unit, "triggers"]})
    columns = ["scheme", "unit_id", "name", "category", f"step_{names[0]}", "step", "triggers"]
    return counts.rename_axis("scheme").reset_index(), pd.DataFrame(rows, columns=columns)


def analysis(scheme: Resolved, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             scenarios: Sequence[Resolved] = (), rules: str | Path | None = None) -> "Result":
    """The protocol's consequences analysis (see :mod:`perfsim.analyses.result`): the
    ladder of consequences (the rules file, default ``params/consequences.yaml``) each unit
    reaches under ``scheme`` and every scheme of ``scenarios``, with the awards."""
    from ..core.scheme import as_resolved
    from .result import Chart, Result, both
    from .tracking import award_quota, load_tracking

    path = rules or RULES
    ladder = load_rules(path)
    knobs = load_tracking()
    quota = award_quota(dataset, knobs)
    schemes = [as_resolved(scheme), *(as_resolved(s) for s in scenarios)]
    tables: dict[str, pd.DataFrame] = {}
    for s in schemes:
        if s.name in tables:
            raise PerfsimError(f"two schemes are named '{s.name}'", where=str(s.path))
        tables[s.name] = consequences(s, dataset, ladder, year, knobs["awards"], quota, str(path))
    counts, changes = compare_consequences(tables, ladder.steps)
    long = pd.concat([t.assign(scheme=name) for name, t in tables.items()], ignore_index=True)
    first = schemes[0].name
    reached = {name: int((t["step_level"] > 0).sum()) for name, t in tables.items()}
    facts = {"schemes": list(tables), "steps": list(ladder.steps), "quota": quota, "reached": reached,
             "changes": int(len(changes)), "rules": Path(path).name}
    zh = (f"按后果阶梯（{Path(path).name}），方案「{first}」下有 {reached[first]} 个单位至少触及一级后果。"
          + "".join(f"方案「{n}」下 {reached[n]} 个；" for n in list(tables)[1:])
          + (f"与「{first}」相比，共有 {len(changes)} 个单位-方案组合的后果等级改变。" if len(tables) > 1 else "")
          + (f"优秀公务员奖励名额 {quota} 个，按等次和编制分配。" if quota is not None else "单位表无编制数，未分配奖励名额。"))
    en = (f"On the ladder of consequences ({Path(path).name}), {reached[first]} units reach at least one step "
          f"under '{first}'"
          + "".join(f"; {reached[n]} under '{n}'" for n in list(tables)[1:]) + ". "
          + (f"{len(changes)} unit-scheme pair(s) change step against '{first}'. " if len(tables) > 1 else "")
          + (f"The {quota} excellent-civil-servant awards are shared by grade and staff."
             if quota is not None else "The units table has no staff: no awards are shared."))
    return Result(
        "consequences", both("考核结果运用：后果阶梯", "Results use: the ladder of consequences"),
        tables={"consequences": long, "steps": counts, "changes": changes},
        figures={"steps": Chart("steps", ("steps",), both("各方案下触及每级后果的单位数",
                                                          "Units reaching each step, per scheme"),
                                {"scheme_names": list(tables)})},
        facts=facts, texts=both(zh, en), scenarios={("scheme" if k == 0 else f"scenario_{k}"): s
                                                    for k, s in enumerate(schemes)},
        shown=(("steps", "触及每级后果的单位数", "Units reaching each step"),
               ("changes", "后果等级改变的单位", "Units whose step changes")))
