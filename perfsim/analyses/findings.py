"""Findings a decision maker can read: what a scenario does, to whom, and how sure we are.

:func:`findings` compares a scenario with its base on a dataset and returns plain data
(JSON-ready): the declared change in the scheme's own words, the key numbers (units that
move, the largest moves, grade changes), winners and losers by group (central and outer
districts, each category), the top movers with the component that moved them most, the
validity change with its interval when an ensemble was run, the assumptions that drive
the result (with their basis), and a headline in Chinese and in English. Every number in
the headline is one of the computed numbers; nothing is typed by hand, and the headline
says "undetermined" where the interval straddles zero.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import component_columns, resolve_year, score
from ..core.paths import shown_path
from ..core.scheme import Resolved
from .attribution import attribute
from .compare import biggest_movers, rank_shifts


def _labels(resolved: Resolved) -> dict[str, tuple[str, str]]:
    """component id -> (Chinese label, English label)."""
    out = {}
    for key, node in resolved.scheme.components.items():
        out[key] = (node.label or key, node.label_en or node.label or key)
    out.update(bonus=("加分", "bonus"), deduction=("减分", "deduction"))
    return out


def _num(value: float) -> str:
    return f"{value:g}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def declared_change(base: Resolved, scenario: Resolved) -> dict[str, Any]:
    """The change in the scheme's own words: component points before and after, the total,
    and the scenario's declared diff."""
    labels = {**_labels(base), **_labels(scenario)}
    b, s = base.scheme.components, scenario.scheme.components
    points: list[dict[str, Any]] = []
    for key in dict.fromkeys([*b, *s]):
        pb = b[key].points if key in b else 0.0
        ps = s[key].points if key in s else 0.0
        if pb is not None and ps is not None and abs(pb - ps) > 1e-9:
            points.append({"component": key, "label": labels[key][0], "label_en": labels[key][1],
                           "before": float(pb), "after": float(ps)})
    points.sort(key=lambda p: -abs(p["after"] - p["before"]))          # the main change first
    zh = "，".join(f"{p['label']} {_num(p['before'])} → {_num(p['after'])} 分" for p in points)
    en = ", ".join(f"{p['label_en']} {_num(p['before'])} -> {_num(p['after'])} points" for p in points)
    tb, ts = float(base.scheme.tree.points), float(scenario.scheme.tree.points)
    if abs(tb - ts) > 1e-9:
        zh += f"，总分 {_num(tb)} → {_num(ts)} 分"
        en += f", total {_num(tb)} -> {_num(ts)} points"
    fallback = scenario.scheme.description or f"the change declared in '{scenario.name}'"
    return {"points": points, "zh": zh or fallback, "en": en or fallback, "diff": scenario.diff}


def _group_masks(units: pd.DataFrame) -> dict[str, tuple[str, str, np.ndarray]]:
    out = {}
    for kind, zh, en in (("central", "中心城区", "central districts"), ("outer", "远城区", "outer districts")):
        mask = (units["district_type"] == kind).to_numpy()
        if mask.any():
            out[kind] = (zh, en, mask)
    for category in sorted(units["category"].unique()):
        out[f"category:{category}"] = (str(category), str(category), (units["category"] == category).to_numpy())
    return out


def findings(base: Resolved, scenario: Resolved, dataset: Dataset, year: int | None = None,
             effects: pd.DataFrame | None = None, worlds: int | None = None, top: int = 3,
             posterior: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The findings of ``scenario`` against ``base`` on ``dataset`` (see the module
    docstring); ``effects`` (an ensemble's ``effects.csv`` rows, optional) adds validity over
    plausible worlds; ``posterior`` (:func:`perfsim.analyses.inference.posterior_verdict`)
    the verdict over the worlds the data allow, with the assumptions that decide it, which
    the headline then states."""
    base_table, scen_table = score(base, dataset, year), score(scenario, dataset, year)
    shifts = rank_shifts(base_table, scen_table)
    comps = sorted(set(component_columns(base)) | set(component_columns(scenario)), key=str)
    attr = attribute(base_table, scen_table, comps, scenario.scheme.ranking.round).set_index("unit_id")
    labels = {**_labels(base), **_labels(scenario)}
    n = len(shifts)
    moved = shifts[shifts["shift"] != 0]
    up, down = shifts["shift"].min(), shifts["shift"].max()
    changed = shifts[shifts["grade_base"] != shifts["grade_scenario"]]
    transitions = (changed.groupby(["grade_base", "grade_scenario"]).size().rename("units").reset_index()
                   .to_dict("records"))
    numbers = {
        "units": n, "moved": int(len(moved)), "share_moved": float(len(moved) / n) if n else 0.0,
        "largest_up": int(-up) if up < 0 else 0, "largest_down": int(down) if down > 0 else 0,
        "mean_abs_shift": float(shifts["shift"].abs().mean()), "grade_changes": int(len(changed)),
        "grade_transitions": [{"from": t["grade_base"], "to": t["grade_scenario"], "units": int(t["units"])}
                              for t in transitions],
    }
    units = dataset.units.set_index("unit_id").reindex(shifts["unit_id"]).reset_index()
    groups = []
    for key, (zh, en, mask) in _group_masks(units).items():
        g = shifts[mask]
        groups.append({"group": key, "label": zh, "label_en": en, "units": int(mask.sum()),
                       "mean_shift": float(g["shift"].mean()), "moved_up": int((g["shift"] < 0).sum()),
                       "moved_down": int((g["shift"] > 0).sum()),
                       "mean_total_change": float((g["total_scenario"] - g["total_base"]).mean())})
    movers = []
    names = dataset.units.set_index("unit_id")
    for row in biggest_movers(shifts, top).itertuples():
        a = attr.loc[row.unit_id]
        shapley = {c.removeprefix("shapley_"): float(a[c]) for c in attr.columns if c.startswith("shapley_")}
        cause = max(shapley, key=lambda k: abs(shapley[k])) if shapley else None
        movers.append({"unit_id": row.unit_id, "name": str(names.loc[row.unit_id, "name"]),
                       "name_en": str(names.loc[row.unit_id].get("name_en", row.unit_id)),
                       "category": row.category, "rank_base": int(row.rank_base),
                       "rank_scenario": int(row.rank_scenario), "shift": int(row.shift),
                       "total_change": float(row.total_scenario - row.total_base), "main_cause": cause,
                       "main_cause_label": labels.get(cause, (cause, cause))[0] if cause else None,
                       "main_cause_label_en": labels.get(cause, (cause, cause))[1] if cause else None,
                       "shapley": shapley})
    validity = None
    if effects is not None:
        rows = effects[(effects["scenario"] == scenario.name) & (effects["metric"] == "delta_tau_truth")]
        if len(rows):
            r = rows.iloc[0]
            validity = {"median": float(r["median"]), "q05": float(r["q05"]), "q95": float(r["q95"]),
                        "p_helps": float(r["p_helps"]), "p_hurts": float(r["p_hurts"]), "verdict": str(r["verdict"]), "worlds": worlds}
    change = declared_change(base, scenario)
    origin = str(dataset.origin)
    out = {"scenario": scenario.name, "base": base.name,
           "data": shown_path(origin) if origin.startswith("/") else origin,
           "year": resolve_year(dataset, year), "change": change, "numbers": numbers,
           "groups": groups, "movers": movers, "validity": validity,
           "posterior": _posterior_facts(posterior) if posterior else None,
           "assumptions": assumptions(base, scenario, validity is not None)}
    out["headline"] = {"zh": headline(out, "zh"), "en": headline(out, "en")}
    return out


def _posterior_facts(p: Mapping[str, Any]) -> dict[str, Any]:
    v = p["verdict"]
    flips = [r for r in p["ledger"] if np.isfinite(float(r["flip_at"]))]
    top = p["ledger"][0] if p["ledger"] else None
    return {"median": float(v["median"]), "q05": float(v["q05"]), "q95": float(v["q95"]),
            "p_helps": float(v["p_helps"]), "p_hurts": float(v["p_hurts"]), "verdict": str(v["verdict"]),
            "worlds": p["worlds"], "accepted": p["accepted"], "moments": len(p["moments"]),
            "flips": [{"knob": r["knob"], "label": r.get("label") or "", "at": float(r["flip_at"]),
                       "holds_if": r["holds_if"], "post_q05": float(r["post_q05"]),
                       "post_q95": float(r["post_q95"])} for r in flips],
            "top": ({"knob": top["knob"], "label": top.get("label") or "", "share": float(top["share"]),
                     "post_q05": float(top["post_q05"]), "post_q95": float(top["post_q95"])} if top else None)}


def _zh_name(entry: Mapping[str, Any]) -> str:
    """A setting as a Chinese reader sees it: its Chinese name with the dotted name after it."""
    return f"{entry['label']}（{entry['knob']}）" if entry.get("label") else entry["knob"]


def _posterior_text(p: Mapping[str, Any], lang: str) -> str:
    v, zh = p["verdict"], lang == "zh"
    if zh:
        word = {"helps": "提高", "hurts": "降低"}.get(v)
        head = (f"在数据所允许的合成世界中（{p['worlds']} 个参考世界，保留 {p['accepted']} 个，{p['moments']} 个矩），"
                + (f"排名与真实绩效的一致性{word}的概率为 {max(p['p_helps'], p['p_hurts']):.2f}" if word else
                   f"排名与真实绩效的一致性是提高还是降低无法确定（提高的概率 {p['p_helps']:.2f}，降低的概率 {p['p_hurts']:.2f}）")
                + f"（Kendall τ 预期变化中位数 {p['median']:+.3f}，90% 区间 {p['q05']:+.3f} 至 {p['q95']:+.3f}）")
        if p["flips"]:
            head += "；结论取决于" + "、".join(
                f"{_zh_name(f)}（在 {f['at']:.3g} 处反转，数据给出的范围为 [{f['post_q05']:.3g}, {f['post_q95']:.3g}]）"
                for f in p["flips"])
        elif p["top"]:
            t = p["top"]
            head += (f"；在先验范围内没有任何假设能使其反转，影响最大的假设是{_zh_name(t)}"
                     f"（数据给出的范围为 [{t['post_q05']:.3g}, {t['post_q95']:.3g}]）")
        return head
    word = {"helps": "raises", "hurts": "lowers"}.get(v)
    head = (f"over the worlds the data allow ({p['accepted']} of {p['worlds']} reference worlds, {p['moments']} "
            "moments) " + (f"it {word} the ranking's agreement with true performance with probability "
                           f"{max(p['p_helps'], p['p_hurts']):.2f}" if word else
                           "whether it raises or lowers the ranking's agreement with true performance is "
                           f"undetermined (P(raises) {p['p_helps']:.2f}, P(lowers) {p['p_hurts']:.2f})")
            + f" (expected Kendall tau change, median {p['median']:+.3f}, 90 % interval {p['q05']:+.3f} to "
              f"{p['q95']:+.3f})")
    if p["flips"]:
        head += "; it turns on " + " and ".join(
            f"{f['knob']} (the sign changes at {f['at']:.3g}; the data put it at [{f['post_q05']:.3g}, "
            f"{f['post_q95']:.3g}])" for f in p["flips"])
    elif p["top"]:
        t = p["top"]
        head += (f"; no assumption within the prior ranges turns it; it moves most with {t['knob']} (the data put "
                 f"it at [{t['post_q05']:.3g}, {t['post_q95']:.3g}])")
    return head


def assumptions(base: Resolved, scenario: Resolved, synthetic: bool) -> list[dict[str, Any]]:
    """What the result rests on: the basis of every scheme node the change touches and, for
    validity judged on synthetic worlds, the generator knobs that decide it."""
    out = []
    b = base.scheme.components
    for p in declared_change(base, scenario)["points"]:
        node = b.get(p["component"])
        if node is not None:
            out.append({"what": f"scheme: {p['label_en']} ({p['label']})", "basis": node.basis or "unstated",
                        "note": node.note or ""})
    if synthetic:
        from ..core.yamlio import load_yaml
        from ..sources.synth import DEFAULT_PARAMS

        raw = load_yaml(DEFAULT_PARAMS)
        for path in ("truth.visible_share", "leader.visible_weight", "leader.theta_effect", "leader.favour_points",
                     "leader.favour_prob", "leader.compression", "satisfaction.theta_effect",
                     "performance.theta_effect"):
            section, name = path.split(".")
            knob = raw.get(section, {}).get(name)
            if isinstance(knob, Mapping) and "value" in knob:
                out.append({"what": f"synthetic world: {path} = {knob['value']}", "basis": knob["basis"],
                            "note": str(knob.get("source", "")).split(" | meaning: ")[-1]})
    return out


def _verb(validity: Mapping, lang: str) -> str:
    v = validity["verdict"]
    if lang == "zh":
        return {"helps": "提高", "hurts": "降低", "undetermined": "的变化无法确定（区间跨过零）"}[v]
    return {"helps": "raises", "hurts": "lowers", "undetermined": "does not measurably change"}[v]


def headline(f: Mapping[str, Any], lang: str = "en") -> str:
    """One sentence from the numbers of a findings dict (Chinese or English)."""
    n, k = f["numbers"], f["change"]
    v = f["validity"]
    if lang == "zh":
        text = (f"{k['zh']}：{n['units']} 个单位中 {n['moved']} 个排名变化（最大上升 {n['largest_up']} 位、"
                f"下降 {n['largest_down']} 位），{n['grade_changes']} 个等次变化")
        if f.get("posterior"):
            text += "；" + _posterior_text(f["posterior"], "zh")
        elif v:
            text += (f"；在 {v['worlds']} 个合理的合成世界中，排名与真实绩效的一致性{_verb(v, 'zh')}（Kendall τ 变化中位数 "
                     f"{v['median']:+.3f}，90% 区间 {v['q05']:+.3f} 至 {v['q95']:+.3f}，变化为正的世界占 "
                     f"{v['p_helps']:.2f}、为负的占 {v['p_hurts']:.2f}；各世界的假设取自 params/plausible.csv，"
                     "未按数据推断）")
        return text + "。"
    text = (f"{k['en']}: {n['moved']} of {n['units']} units change rank (largest move {n['largest_up']} up, "
            f"{n['largest_down']} down) and {n['grade_changes']} change grade")
    if f.get("posterior"):
        text += "; " + _posterior_text(f["posterior"], "en")
    elif v:
        text += (f"; over {v['worlds']} plausible synthetic worlds it {_verb(v, 'en')} the ranking's agreement with "
                 f"true performance (Kendall tau change, median {v['median']:+.3f}, 90 % interval {v['q05']:+.3f} "
                 f"to {v['q95']:+.3f}; positive in {v['p_helps']:.2f} of the worlds, negative in {v['p_hurts']:.2f}; "
                 "the worlds' assumptions come from params/plausible.csv, not inferred from these data)")
    return text + "."
