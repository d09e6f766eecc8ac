"""Schemes and scenarios: YAML parameters, validated whole.

A *scheme* is one indicator tree (DESIGN section 4). Its root is the total; every node
carries ``points`` (absolute, must add up to the parent's points) or ``weight``
(relative, re-normalised over the children that apply to a unit); leaves say where their
input comes from (``source``) and how it is scored (``rule``).

A *scenario* is a declarative diff over a base scheme (or over another scenario)::

    name: leader5_to_satisfaction
    base: ../baseline.yaml          # relative to this file
    set:
      tree.leader.points: 5         # a path of node ids and field names
      tree.satisfaction.points: 25
    remove: [tree.special]

The diff is parsed and checked in full (every path must exist, the result must be a
valid scheme) before anything is applied, and it is applied to a deep copy: the base is
never mutated. Every problem is a :class:`~perfsim.errors.PerfsimError` naming the file
and the key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import PerfsimError
from .rules import RULES, rule_fields, rules_of
from .yamlio import load_yaml

if TYPE_CHECKING:
    import pandas as pd

#: the scoring rules' names, from the registry (:data:`perfsim.core.rules.RULES`)
Rule = Literal[tuple(RULES)]  # type: ignore[valid-type]
#: rules that normalise an indicator against the other units' values (within a category,
#: or over all units with ``within: all``)
DATA_SCALED = rules_of("scaled")
Source = Literal["indicator", "leader_ratings", "satisfaction", "special", "units"]
UnitField = Literal["staff", "budget", "consumption"]
NODE_ID = r"^[A-Za-z][A-Za-z0-9_]*$"
TOLERANCE = 1e-6


class _Strict(BaseModel):
    # unknown keys are errors; numbers must be finite (.inf and .nan are refused)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: the deepest tree a scheme may have (levels below the root)
MAX_TREE_DEPTH = 24
#: the largest number of points a node may carry
MAX_POINTS = 1e9

#: per source and rule, the leaf fields that rule uses (beyond label, points, weight, ...),
#: from the registry
RULE_FIELDS: dict[tuple[str, str], frozenset[str]] = rule_fields()
#: fields every node may carry
NODE_FIELDS = frozenset({"label", "label_en", "basis", "note", "points", "weight", "extra", "applies_to",
                         "source", "rule", "children", "aggregate", "missing", "impute", "impute_by", "treat"})
#: what a missing actual means (DESIGN: declared, never silent); see :class:`Node`
MissingRule = Literal["zero", "exclude", "impute"]
ImputeMethod = Literal["category_median", "category_mean", "previous_year", "unit_mean"]
#: rules that score an actual against the unit's target (a missing actual scores 0 by default)
TARGET_RULES = rules_of("target")


class AppliesTo(_Strict):
    """Which units a node applies to; a unit must match every field that is given."""

    kind: list[str] | None = None
    district_type: list[str] | None = None
    category: list[str] | None = None


class Treat(_Strict):
    """Outlier treatment of an indicator's actuals before scoring, as COINr's Treat does:
    ``winsorise`` clips up to ``max_points`` of the most extreme values, one at a time,
    to the next value inward, while the absolute skewness exceeds ``skew`` and the
    kurtosis exceeds ``kurtosis``; if that is not enough (or ``method: log``) the values
    are log-transformed (``log(x - min + 1)``, direction kept). Only for the data-scaled
    rules minmax and rank, whose scores depend on the spread of the values."""

    method: Literal["winsorise", "log"] = "winsorise"
    max_points: int = Field(default=5, ge=0, le=1000)
    skew: float = Field(default=2.0, gt=0)
    kurtosis: float = Field(default=3.5, gt=0)
    log_fallback: bool = True


class Node(_Strict):
    """One node of the indicator tree (the root, a component, a dimension or a leaf).

    ``missing`` (any node; the nearest one above a leaf applies) says what an indicator
    leaf does with a unit that is assessed on it but has no actual: ``zero`` (scores 0;
    the default of the target rules ratio, band, binary), ``exclude`` (the leaf is
    dropped for that unit and its siblings' weights re-normalised; the default of
    minmax, rank and goalpost) or ``impute`` with ``impute:`` ``category_median`` or
    ``category_mean`` (of the achievement ratio actual/target for target rules, of the
    actual otherwise, over the unit's category), ``previous_year`` (the unit's actual a
    year before) or ``unit_mean`` (the unit's mean score on its other indicators under
    the same parent). A cell that cannot be imputed is excluded and reported.
    """

    label: str | None = None
    label_en: str | None = None
    basis: Literal["grounded", "assumption"] | None = None
    note: str | None = None
    points: float | None = Field(default=None, ge=0, le=MAX_POINTS)
    weight: float | None = Field(default=None, ge=0)
    extra: bool = False
    applies_to: AppliesTo | None = None
    # internal nodes
    aggregate: Literal["arithmetic", "geometric"] = "arithmetic"
    children: dict[str, "Node"] | None = None
    # leaves
    source: Source | None = None
    indicator: str | None = None
    rule: Rule | None = None
    direction: Literal["higher", "lower"] | None = None
    cap: float | None = Field(default=None, gt=0)
    floor: float | None = Field(default=None, ge=0)
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    trim: bool = False
    # leader ratings: the levers against leniency, 平衡分 and 人情分 (see the README)
    adjust: Literal["none", "centre", "standardise", "model"] | None = None
    convert: Literal["mean", "rank", "tiers"] | None = None
    tiers: list[tuple[float, float]] | None = None   # convert tiers: [share of units, rating] from the top
    panels: dict[str, float] | None = None           # rater panels and their weights (default: all raters as one)
    groups: dict[str, float] | None = None
    facet: str | None = None
    field: UnitField | None = None          # source units: which reference column
    per: UnitField | None = None            # source units: divided by this column
    peer_quantile: float | None = Field(default=None, ge=0, le=1)   # target from the peers
    # normalisations (DATA_SCALED rules)
    range: tuple[float, float] | None = None     # minmax onto [lo, hi], on the 0-100 scale of full marks
    rescale: tuple[float, float] | None = None   # zscore: mean and sd, on the 0-100 scale (default 0, 1)
    target: float | None = None                  # dist_target: the target value
    cap_max: bool = False                        # dist_target: at most full marks past the target
    within: Literal["category", "all"] | None = None   # normalise within the category (default) or over all
    divide_by: str | None = None                 # the actual divided by another indicator's (a denominator)
    # internal nodes
    geometric_floor: float | None = Field(default=None, gt=0, le=1)   # raise child scores below to this
    missing: MissingRule | None = None
    impute: ImputeMethod | None = None
    #: the units column whose groups category_median/mean impute within (default: category)
    impute_by: Literal["category", "kind", "district_type"] | None = None
    treat: Treat | None = None

    @property
    def is_leaf(self) -> bool:
        return self.children is None

    @model_validator(mode="after")
    def _check(self) -> "Node":
        if self.points is not None and self.weight is not None:
            raise ValueError("give points or weight, not both")
        if self.missing == "impute" and self.impute is None:
            raise ValueError("missing: impute needs impute (category_median, category_mean, "
                             "previous_year or unit_mean)")
        if self.impute is not None and self.missing != "impute":
            raise ValueError("field impute is used only with missing: impute")
        if self.impute_by is not None and self.impute not in ("category_median", "category_mean"):
            raise ValueError("impute_by is for impute: category_median or category_mean")
        if self.children is not None:
            self._check_internal()
        else:
            self._check_leaf()
        return self

    def _check_internal(self) -> None:
        if not self.children:
            raise ValueError("children must not be empty")
        leaf_fields = ("source", "indicator", "rule", "direction", "cap", "floor", "lo", "hi",
                       "groups", "facet", "field", "per", "peer_quantile", "range", "rescale", "target",
                       "within", "divide_by", "adjust", "convert", "tiers", "panels")
        given = [f for f in leaf_fields if getattr(self, f) is not None]
        if given:
            raise ValueError(f"a node with children cannot have leaf field(s) {', '.join(given)}")
        for child_id, child in self.children.items():
            if not re.match(NODE_ID, child_id) or child_id in Node.model_fields:
                raise ValueError(f"node id {child_id!r} must be letters, digits and _ and not "
                                 "a field name")
            if child.points is None and child.weight is None:
                raise ValueError(f"child {child_id!r} needs points or weight")
            if child.extra and child.points is None:
                raise ValueError(f"child {child_id!r} is extra, so it needs points")
        if self.geometric_floor is not None and self.aggregate != "geometric":
            raise ValueError("geometric_floor is for a node with aggregate: geometric")
        normal = {k: c for k, c in self.children.items() if not c.extra}
        if not normal:
            raise ValueError("needs at least one child that is not extra")
        with_points = [k for k, c in normal.items() if c.points is not None]
        if with_points and len(with_points) != len(normal):
            raise ValueError("children mix points and weight: use one of them for all siblings")
        if with_points and self.points is not None:
            total = sum(c.points for c in normal.values())
            if not math.isclose(total, self.points, rel_tol=0, abs_tol=TOLERANCE):
                raise ValueError(f"children's points add up to {total:g}, not to this node's "
                                 f"points {self.points:g}")
        if sum((c.points if c.points is not None else c.weight) for c in normal.values()) <= 0:
            raise ValueError("children's weights are all zero")

    def _check_leaf(self) -> None:
        source = self.source or ("indicator" if self.rule not in (None, "rating") else None)
        if source is None:
            raise ValueError("a leaf needs a source (indicator, leader_ratings, satisfaction, "
                             "special) and a rule")
        rule = self.rule
        if rule is None:
            raise ValueError("a leaf needs a rule")
        if "aggregate" in self.model_fields_set:
            raise ValueError("field 'aggregate' is for nodes with children, not for a leaf")
        if self.geometric_floor is not None:
            raise ValueError("field 'geometric_floor' is for nodes with children, not for a leaf")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range {list(self.range)}: the first (worst) must be below the second (best)")
        if self.rescale is not None and not self.rescale[1] > 0:
            raise ValueError(f"rescale {list(self.rescale)}: the standard deviation must be positive")
        if rule == "dist_target" and self.target is None:
            raise ValueError("rule dist_target needs target (the value that scores full marks)")
        allowed = RULE_FIELDS.get((source, rule))
        if allowed is not None:
            unused = sorted(self.model_fields_set - NODE_FIELDS - allowed)
            if unused:
                uses = ", ".join(sorted(allowed)) or "no other field"
                raise ValueError(f"field(s) {', '.join(unused)} not used by rule {rule} on source "
                                 f"{source} (it uses {uses})")
        if source == "indicator":
            if rule == "rating":
                raise ValueError("rule rating is for leader_ratings, satisfaction and special")
            if rule == "goalpost":
                if self.lo is None or self.hi is None:
                    raise ValueError("rule goalpost needs lo and hi")
                if not self.hi > self.lo:
                    raise ValueError(f"goalpost hi ({self.hi}) must be greater than lo ({self.lo})")
                if self.log and self.lo <= 0:
                    raise ValueError("a log goalpost needs lo > 0")
            if rule == "band":
                if self.floor is None:
                    raise ValueError("rule band needs floor (the share of the target that scores 0)")
                if self.floor >= 1:
                    raise ValueError("band floor must be below 1 (the target itself)")
            if self.peer_quantile is not None and rule not in ("ratio", "band", "binary"):
                raise ValueError("peer_quantile sets the target: it needs rule ratio, band or binary")
        elif source == "units":
            if self.field is None:
                raise ValueError("source units needs field (staff, budget or consumption)")
            if rule not in ("minmax", "rank", "goalpost"):
                raise ValueError("source units is scored with rule minmax, rank or goalpost")
            if rule == "goalpost" and (self.lo is None or self.hi is None or not self.hi > self.lo):
                raise ValueError("rule goalpost needs lo < hi")
        else:
            if rule != "rating":
                raise ValueError(f"source {source} is scored with rule rating")
            if source == "special" and not self.facet:
                raise ValueError("source special needs a facet")
        if self.groups is not None:
            if source != "satisfaction":
                raise ValueError("groups is for source satisfaction")
            if any(w < 0 for w in self.groups.values()) or sum(self.groups.values()) <= 0:
                raise ValueError("group weights must be non-negative and not all zero")
        if self.trim and source != "leader_ratings":
            raise ValueError("trim is for source leader_ratings")
        if source == "leader_ratings":
            self._check_rating_levers()
        if self.missing is not None and source != "indicator":
            raise ValueError("missing is for indicator leaves (or the nodes above them)")
        if self.treat is not None and (source != "indicator" or rule not in DATA_SCALED):
            raise ValueError(f"treat is for indicator leaves scored by {', '.join(DATA_SCALED)} (the rules "
                             "that depend on the spread of the values)")


    def _check_rating_levers(self) -> None:
        if self.panels is not None and (not self.panels or any(w < 0 for w in self.panels.values())
                                        or sum(self.panels.values()) <= 0):
            raise ValueError("panels: weights must be non-negative and not all zero")
        convert = self.convert or "mean"
        if convert == "mean":
            for name in ("floor", "tiers", "within"):
                if getattr(self, name) is not None:
                    raise ValueError(f"field {name} is used only with convert: rank or tiers")
            return
        if self.adjust not in (None, "none"):
            raise ValueError(f"adjust has no effect with convert: {convert} (a rater's ranking of the units does "
                             "not change when its ratings are centred or scaled)")
        if convert == "rank":
            if self.tiers is not None:
                raise ValueError("field tiers is used only with convert: tiers")
            if self.floor is not None and not self.floor < 1:
                raise ValueError(f"floor {self.floor:g}: the lowest rank's share of full marks must be below 1")
        else:
            if self.floor is not None:
                raise ValueError("field floor is used only with convert: rank (tiers give their own ratings)")
            if not self.tiers or len(self.tiers) < 2:
                raise ValueError("convert: tiers needs tiers, at least two [share, rating] pairs from the top")
            shares = [t[0] for t in self.tiers]
            marks = [t[1] for t in self.tiers]
            if any(not 0 < x <= 1 for x in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
                raise ValueError(f"tiers: the shares {shares} must be above 0 and add up to 1")
            if any(not 0 <= m <= 100 for m in marks) or any(a <= b for a, b in zip(marks, marks[1:])):
                raise ValueError(f"tiers: the ratings {marks} must fall from the top tier down, within 0-100")


class Bonus(_Strict):
    cap: float | None = Field(default=None, ge=0)
    basis: Literal["grounded", "assumption"] | None = None
    note: str | None = None


class DeductionItem(_Strict):
    label: str | None = None
    label_en: str | None = None
    cap: float | None = Field(default=None, ge=0)


class Deduction(_Strict):
    cap: float | None = Field(default=None, ge=0)
    items: dict[str, DeductionItem] | None = None
    basis: Literal["grounded", "assumption"] | None = None
    note: str | None = None


class Adjustments(_Strict):
    bonus: Bonus = Bonus()
    deduction: Deduction = Deduction()
    veto: bool = True


class Categories(_Strict):
    """Re-cut the categories of the data (applied in this order): ``merge`` old categories
    into a new one, ``split`` named units of a category off into new categories, ``move``
    named units to a category. Applicability (``applies_to``) still uses the data's
    categories: a re-cut changes who is ranked with whom, not what a unit is assessed on."""

    merge: dict[str, list[str]] = {}
    split: dict[str, dict[str, list[str]]] = {}
    move: dict[str, str] = {}


class Ranking(_Strict):
    within: Literal["category", "all"] = "category"
    round: int | None = Field(default=None, ge=0, le=12)


class Grading(_Strict):
    """Grades by quota (shares of the best ranks per category) or by total thresholds.

    ``grades`` runs best to worst; the last grade is the lowest (given below ``floor``
    and on a veto). Under ``quota`` every grade but the last two may have a share; the
    second to last takes the rest.
    """

    method: Literal["quota", "thresholds"] = "quota"
    grades: list[str] = ["优秀", "良好", "达标", "不达标"]
    quota: dict[str, float] | None = None
    thresholds: dict[str, float] | None = None
    floor: float | None = None
    rounding: Literal["floor", "round", "ceil"] = "floor"
    basis: Literal["grounded", "assumption"] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Grading":
        if len(self.grades) < 2 or len(set(self.grades)) != len(self.grades):
            raise ValueError("grades must be at least two distinct names, best first")
        if self.method == "quota":
            if self.quota is None:
                raise ValueError("method quota needs quota (share per grade)")
            unknown = [g for g in self.quota if g not in self.grades[:-2]]
            if unknown:
                raise ValueError(f"quota names {unknown}: only {self.grades[:-2]} take a share")
            if any(s < 0 or s > 1 for s in self.quota.values()) or sum(self.quota.values()) > 1:
                raise ValueError("quota shares must lie in [0, 1] and add up to at most 1")
        else:
            if self.thresholds is None:
                raise ValueError("method thresholds needs thresholds (minimum total per grade)")
            unknown = [g for g in self.thresholds if g not in self.grades[:-1]]
            if unknown:
                raise ValueError(f"thresholds name {unknown}, not among {self.grades[:-1]}")
            values = [self.thresholds[g] for g in self.grades[:-1] if g in self.thresholds]
            if values != sorted(values, reverse=True):
                raise ValueError("thresholds must fall from the best grade to the worst")
        return self


class WeightSpec(_Strict):
    """The children weights of some internal nodes vary."""

    nodes: list[str] | None = None       # node paths, e.g. tree.targets
    level: int | None = Field(default=None, ge=0)   # or every internal node at this depth (tree = 0)
    method: Literal["uniform", "dirichlet"] = "uniform"
    spread: float = Field(default=0.2, ge=0, lt=1)
    concentration: float = Field(default=50.0, gt=0)


class ChoiceSpec(_Strict):
    """An alternative scoring or aggregation choice: each draw picks one value."""

    path: str
    field: Literal["cap", "floor", "aggregate"]
    values: list[float | str] = Field(min_length=1)


class UncertaintySpec(_Strict):
    weights: list[WeightSpec] = []
    choices: list[ChoiceSpec] = []
    leader_noise: bool = False
    survey_noise: bool = False
    respondent_sd: float = Field(default=12.0, gt=0)
    respondents_scale: float = Field(default=1.0, gt=0)   # survey design: n x this factor
    draws: int = Field(default=10_000, ge=1)
    chunk: int = Field(default=10_000, ge=1)


class Assessment(_Strict):
    """Periodic assessment (过程考核, 二.2, 四.(三).3): the months assessed and their weights in
    the year's total. Each assessed month is scored from the year-to-date data against the
    targets expected by then; the year's total is the weighted mean of the months' totals
    (the year-end result with process scores as a component is weights such as
    ``{3: 0.1, 6: 0.1, 9: 0.1, 12: 0.7}``)."""

    weights: dict[int, float] = Field(min_length=1)
    basis: Literal["grounded", "assumption"] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Assessment":
        bad = [m for m in self.weights if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"weights: month {bad[0]} is not a month (1-12)")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return self


class Scheme(_Strict):
    """A whole scoring design: the tree plus adjustments, ranking and grading."""

    name: str
    description: str | None = None
    tree: Node
    adjustments: Adjustments = Adjustments()
    ranking: Ranking = Ranking()
    grading: Grading | None = None
    categories: Categories | None = None
    #: how results name each category (data code -> label, e.g. party_admin: 综合党群类部门);
    #: a category without a label is shown by its code
    category_labels: dict[str, str] = {}
    focal_city: str | None = None     # the city itself in the peers table (for peer_quantile)
    #: the unit kinds this scheme assesses (any kind when not given)
    unit_kinds: list[str] | None = Field(default=None, min_length=1)
    uncertainty: UncertaintySpec | None = None
    assessment: Assessment | None = None

    @model_validator(mode="after")
    def _check(self) -> "Scheme":
        if self.tree.points is None:
            raise ValueError("'tree.points': required at the root (the total, for example 100)")
        if self.tree.is_leaf:
            raise ValueError("tree needs children")
        if self.focal_city is None and any(n.peer_quantile is not None for _, n in iter_nodes(self.tree)):
            raise ValueError("'focal_city': required when a leaf has peer_quantile")
        for path, node in iter_nodes(self.tree):
            for child_id, child in (node.children or {}).items():
                if child.extra and path != "tree":
                    raise ValueError(f"'{path}.{child_id}.extra': only components (children "
                                     "of tree) may be extra")
        return self

    @property
    def components(self) -> dict[str, Node]:
        return dict(self.tree.children or {})


class Reallocation(_Strict):
    """Give a component new points and say where the difference goes: ``proportional``
    (to the other components, in proportion to their points), the id of one component,
    or ``none`` (the total changes)."""

    component: str
    points: float = Field(ge=0, le=MAX_POINTS)
    to: str = "proportional"


class ScenarioFile(_Strict):
    name: str
    description: str | None = None
    base: str = Field(min_length=1)
    reallocate: list[Reallocation] = []
    set: dict[str, Any] = {}
    remove: list[str] = []


@dataclass(frozen=True)
class Resolved:
    """A scheme ready to score, with the chain of diffs that produced it."""

    scheme: Scheme
    path: Path
    diffs: tuple[dict[str, Any], ...]   # outermost scenario first; empty for a plain scheme
    raw: Mapping[str, Any]              # the resolved scheme as plain data

    @property
    def name(self) -> str:
        return self.scheme.name

    @property
    def diff(self) -> dict[str, Any]:
        """The declared change (outermost scenario), or {} for a plain scheme."""
        return dict(self.diffs[0]) if self.diffs else {}

    @property
    def base_path(self) -> Path | None:
        """The file this scenario's diff applies to (None for a plain scheme)."""
        if not self.diffs:
            return None
        return self.path.parent / self.diffs[0]["base"]

    def content_hash(self) -> str:
        text = json.dumps(self.raw, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- errors

def _key(loc: tuple[Any, ...]) -> str:
    """pydantic location -> the dotted key a user writes (``children`` levels dropped)."""
    parts = [str(p) for p in loc if p != "children"]
    # drop pydantic's internal tags such as 'function-after[...]'
    parts = [p for p in parts if "[" not in p]
    return ".".join(parts) or "(top level)"


def pydantic_error(exc: ValidationError, where: str, prefix: str = "") -> PerfsimError:
    first = exc.errors()[0]
    key = _key(tuple(first["loc"]))
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    message = message.removeprefix("Value error, ")
    located = re.match(r"^'([^']+)': (.*)$", message)
    if key == "(top level)" and located:       # a whole-scheme check that names its key
        key, message = located.group(1), located.group(2)
    return PerfsimError(f"{prefix}key '{key}': {message}", where=where)


# --------------------------------------------------------------------------- paths

def _walk(raw: dict[str, Any], path: str, where: str) -> tuple[dict[str, Any], str]:
    """Resolve a dotted path to (container mapping, final key); every step must exist."""
    parts = path.split(".")
    if not parts or parts[0] not in Scheme.model_fields:
        raise PerfsimError(f"key 'set.{path}': a path starts with tree, adjustments, ranking, grading or another "
                           f"key of a scheme ({', '.join(k for k in Scheme.model_fields if k not in ('tree', 'adjustments', 'ranking', 'grading'))})",
                           where=where)
    container: Any = raw
    for depth, part in enumerate(parts[:-1]):
        nxt = _step(container, part)
        if nxt is None:
            done = ".".join(parts[: depth + 1])
            raise PerfsimError(f"key '{path}': '{done}' does not exist in the base scheme",
                               where=where)
        container = nxt
    return container, parts[-1]


def _step(container: Any, part: str) -> Any:
    if not isinstance(container, dict):
        return None
    if part in container:
        return container[part]
    children = container.get("children")
    if isinstance(children, dict) and part in children:
        return children[part]
    return None


def _is_node(container: dict[str, Any]) -> bool:
    return any(k in container for k in ("children", "rule", "points", "weight", "source"))


def _set(raw: dict[str, Any], path: str, value: Any, where: str) -> None:
    container, last = _walk(raw, path, where)
    if not isinstance(container, dict):
        raise PerfsimError(f"key '{path}': '{path.rsplit('.', 1)[0]}' is a value, not a mapping",
                           where=where)
    children = container.get("children")
    if last in container or not _is_node(container) or last in Node.model_fields:
        container[last] = copy.deepcopy(value)
    elif isinstance(children, dict) and (last in children or isinstance(value, dict)):
        children[last] = copy.deepcopy(value)  # replace or add a child node
    else:
        raise PerfsimError(f"key '{path}': '{last}' is neither a field nor a child of "
                           f"'{path.rsplit('.', 1)[0]}' (a new child must be a mapping)",
                           where=where)


def _remove(raw: dict[str, Any], path: str, where: str) -> None:
    container, last = _walk(raw, path, where)
    children = container.get("children") if isinstance(container, dict) else None
    if isinstance(children, dict) and last in children:
        del children[last]
    elif isinstance(container, dict) and last in container:
        del container[last]
    else:
        raise PerfsimError(f"key 'remove': '{path}' does not exist in the base scheme", where=where)


def reallocate(raw: Mapping[str, Any], component: str, points: float, to: str = "proportional",
               where: str = "<scheme>") -> dict[str, Any]:
    """A copy of a raw scheme in which ``component`` holds ``points``.

    The difference to its old points goes to the other (non-extra) components in
    proportion to their points (``to="proportional"``), to one named component, or
    nowhere (``to="none"``: the total changes by the difference).
    """
    out = copy.deepcopy(dict(raw))
    tree = out.get("tree", {})
    comps = tree.get("children", {})
    key = f"key 'reallocate' ({component})"
    if component not in comps:
        raise PerfsimError(f"{key}: no component '{component}' (components: {', '.join(comps)})",
                           where=where)
    normal = {k: c for k, c in comps.items() if not c.get("extra") and "points" in c}
    if component not in normal:
        raise PerfsimError(f"{key}: '{component}' is not a component with points", where=where)
    freed = float(normal[component]["points"]) - float(points)
    comps[component]["points"] = float(points)
    others = {k: c for k, c in normal.items() if k != component}
    if to == "none":
        tree["points"] = float(tree["points"]) - freed
    elif to == "proportional":
        total = sum(float(c["points"]) for c in others.values())
        if total <= 0:
            raise PerfsimError(f"{key}: no other component has points to share with", where=where)
        for c in others.values():
            c["points"] = float(c["points"]) + freed * float(c["points"]) / total
    elif to in others:
        others[to]["points"] = float(others[to]["points"]) + freed
    else:
        raise PerfsimError(f"{key}: 'to' must be proportional, none or another component "
                           f"(one of {', '.join(others)})", where=where)
    return out


def apply_diff(base: Mapping[str, Any], changes: Mapping[str, Any], removals: list[str],
               where: str) -> dict[str, Any]:
    """Apply ``set`` and ``remove`` to a deep copy of a raw scheme; the base is untouched."""
    raw = copy.deepcopy(dict(base))
    for path, value in changes.items():
        _set(raw, str(path), value, where)
    for path in removals:
        _remove(raw, str(path), where)
    return raw


# --------------------------------------------------------------------------- loading

def plain(scheme: "Resolved | Scheme") -> Scheme:
    """The :class:`Scheme` of a resolved scenario or of a bare scheme (the one unwrapping)."""
    return scheme.scheme if isinstance(scheme, Resolved) else scheme


def as_resolved(scheme: "Resolved | Scheme") -> "Resolved":
    """A resolved scenario: itself, or a bare scheme wrapped (no file, no diffs)."""
    if isinstance(scheme, Resolved):
        return scheme
    if not isinstance(scheme, Scheme):
        raise TypeError(f"a scheme or resolved scenario, not {type(scheme).__name__}")
    return Resolved(scheme, Path(f"<{scheme.name}>"), (), raw_of(scheme))


def raw_of(scheme: "Resolved | Scheme") -> dict[str, Any]:
    """A scheme as plain data (the resolved YAML of a loaded file), ready for a diff."""
    if isinstance(scheme, Resolved):
        return copy.deepcopy(dict(scheme.raw))
    return scheme.model_dump(exclude_none=True, exclude_unset=True)   # as written: no defaults added


def tree_depth(raw: Any) -> int:
    """Levels of ``children`` below a raw tree mapping (counted without recursion)."""
    deepest, stack = 0, [(raw, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.get("children") if isinstance(node, Mapping) else None
        if isinstance(children, Mapping):
            stack.extend((child, depth + 1) for child in children.values())
    return deepest


def parse_scheme(raw: Mapping[str, Any], where: str, prefix: str = "") -> Scheme:
    depth = tree_depth(raw.get("tree")) if isinstance(raw, Mapping) else 0
    if depth > MAX_TREE_DEPTH:
        raise PerfsimError(f"{prefix}key 'tree': {depth} levels deep; at most {MAX_TREE_DEPTH} are allowed",
                           where=where)
    try:
        return Scheme.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, where, prefix) from None


def load_scheme_text(text: str, where: str = "<text>") -> Scheme:
    """A scheme from YAML text (tests, notebooks): parsed safely and validated whole."""
    from .yamlio import load_yaml_text

    return parse_scheme(load_yaml_text(text, where), where)       # a mapping: load_yaml_text checks


def load_scenario(path: str | Path, _seen: tuple[Path, ...] = ()) -> Resolved:
    """Load a scheme or a scenario file and resolve it to a validated scheme."""
    given = Path(path)
    path = given.resolve() if given.exists() else given
    if path in _seen:
        raise PerfsimError("scenario bases form a cycle: "
                           + " -> ".join(p.name for p in _seen + (path,)), where=given)
    raw = load_yaml(given)
    where = str(given)
    if "base" not in raw:
        scheme = parse_scheme(raw, where)
        return Resolved(scheme=scheme, path=path, diffs=(), raw=copy.deepcopy(raw))
    try:
        scenario = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, where) from None
    base_path = (path.parent / scenario.base)
    if not base_path.exists():
        raise PerfsimError(f"key 'base': base file {scenario.base!r} not found "
                           f"(looked in {base_path.parent})", where=where)
    if not base_path.is_file():
        raise PerfsimError(f"key 'base': {scenario.base!r} is not a regular file (a folder, FIFO or "
                           "device); name the base scheme's YAML file", where=where)
    base = load_scenario(base_path, _seen + (path,))
    return _resolve(base, scenario, path, where)


def _resolve(base: Resolved, scenario: ScenarioFile, path: Path, where: str) -> Resolved:
    start = base.raw
    for op in scenario.reallocate:
        start = reallocate(start, op.component, op.points, op.to, where)
    resolved_raw = apply_diff(start, scenario.set, scenario.remove, where)
    resolved_raw["name"] = scenario.name
    if scenario.description is not None:
        resolved_raw["description"] = scenario.description
    scheme = parse_scheme(resolved_raw, where, prefix="after applying this scenario, ")
    diff = {"name": scenario.name, "base": scenario.base, "set": dict(scenario.set),
            "remove": list(scenario.remove)}
    if scenario.reallocate:
        diff["reallocate"] = [op.model_dump() for op in scenario.reallocate]
    return Resolved(scheme=scheme, path=path, diffs=(diff,) + base.diffs, raw=resolved_raw)


def resolve_diff(base: Resolved, diff: Mapping[str, Any], where: str = "<scenario>") -> Resolved:
    """A scenario diff given as data (``name``, ``base``, ``reallocate``, ``set``, ``remove``, as
    in a scenario file) applied to a loaded ``base``: validated and resolved exactly as
    :func:`load_scenario` does for a file, with the same messages. The result's path is
    ``where`` (what messages about it name: no file holds it)."""
    try:
        scenario = ScenarioFile.model_validate(dict(diff))
    except ValidationError as exc:
        raise pydantic_error(exc, where) from None
    return _resolve(base, scenario, Path(where), where)


def iter_nodes(node: Node, path: str = "tree"):
    """Yield (path, node) pairs depth-first, parents before children."""
    yield path, node
    for child_id, child in (node.children or {}).items():
        yield from iter_nodes(child, f"{path}.{child_id}")


def tree_table(scheme: Scheme) -> "pd.DataFrame":
    """The tree as a table: path, depth, label, points or weight, share of parent, rule."""
    import pandas as pd

    rows = []
    for path, node in iter_nodes(scheme.tree):
        parent = path.rsplit(".", 1)[0] if "." in path else None
        rows.append({"path": path, "depth": path.count("."), "id": path.rsplit(".", 1)[-1],
                     "label": node.label, "label_en": node.label_en, "points": node.points,
                     "weight": node.weight, "extra": node.extra, "aggregate": None if node.is_leaf
                     else node.aggregate, "rule": node.rule,
                     "source": (node.source or "indicator") if node.is_leaf else None,
                     "basis": node.basis, "parent": parent})
    table = pd.DataFrame(rows)
    raw = table["points"].fillna(table["weight"])
    normal = ~table["extra"]
    sums = raw.where(normal).groupby(table["parent"]).transform("sum")
    table["share_of_parent"] = (raw / sums).where(normal & table["parent"].notna())
    return table
