"""Sentences filled from results, in English and Chinese: never typed numbers.

Every number in a headline, title or conclusion comes from a table computed by the
analyses; a sentence says only what its numbers support (an effect whose 90 % interval
straddles zero is "undetermined", not "helps").
"""

from __future__ import annotations

from typing import Mapping, Sequence

VERDICTS = {
    "en": {"helps": "brings the ranking closer to true performance",
           "hurts": "moves the ranking away from true performance",
           "undetermined": "has no effect on validity that the worlds can tell apart from zero"},
    "zh": {"helps": "使排名更接近真实绩效", "hurts": "使排名偏离真实绩效",
           "undetermined": "对排名效度的影响与零无法区分"},
}
KNOBS = {
    "favour_points": ("favouritism (人情分, rating points)", "人情分（评分点）"),
    "favour_prob": ("share of favoured rater-unit pairs", "人情分发生概率"),
    "compression": ("balancing compression (平衡分)", "平衡分压缩"),
    "leniency_sd": ("spread of rater leniency", "评价人宽严差异"),
    "noise_sd": ("arbitrary rating noise (随意分)", "随意分噪声"),
}


def signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}"


def interval(row: Mapping, digits: int = 3) -> str:
    return f"{signed(row['median'], digits)} [{signed(row['q05'], digits)}, {signed(row['q95'], digits)}]"


def validity_sentence(scenario: str, base: str, row: Mapping, worlds: int, lang: str = "en") -> str:
    """One sentence on a scenario's validity effect (``delta_tau_truth`` of an ensemble)."""
    v = row["verdict"]
    if lang == "zh":
        return (f"在 {worlds} 个合理的合成世界中，方案“{scenario}”相对“{base}”，排名与真实绩效的 Kendall τ "
                f"变化中位数为 {interval(row)}（90% 区间）：{VERDICTS['zh'][v]}。")
    return (f"Over {worlds} plausible synthetic worlds, '{scenario}' against '{base}' changes Kendall's tau "
            f"between ranks and true performance by {interval(row)} (median [90 % interval]): it "
            f"{VERDICTS['en'][v]}.")


def knob_label(knob: str, lang: str = "en") -> str:
    en, zh = KNOBS.get(knob, (knob, knob))
    return zh if lang == "zh" else en


def sweep_sentence(knob: str, effects: Sequence[Mapping], lang: str = "en", with_label: bool = True) -> str:
    """Where along a rater-behaviour sweep the effect helps, hurts or is undetermined
    (``with_label=False`` leaves out the knob's name, for a line that starts with it)."""
    groups: dict[str, list[str]] = {"helps": [], "hurts": [], "undetermined": []}
    for row in effects:
        groups[row["verdict"]].append(f"{row['value']:g}")
    label = knob_label(knob, lang) if with_label else ""
    parts = []
    for verdict in ("helps", "hurts", "undetermined"):
        if groups[verdict]:
            values = ", ".join(groups[verdict])
            if lang == "zh":
                word = {"helps": "改善效度", "hurts": "损害效度", "undetermined": "不确定"}[verdict]
                parts.append(f"{label}为 {values} 时{word}")
            else:
                parts.append(f"{verdict} at {label} {values}".replace("  ", " "))
    return ("；".join(parts) + "。") if lang == "zh" else ("; ".join(parts) + ".")


def _signed_rank(shift: int, lang: str) -> str:
    if lang == "zh":
        return f"上升 {-shift} 位" if shift < 0 else f"下降 {shift} 位" if shift > 0 else "不变"
    return f"{-shift} up" if shift < 0 else f"{shift} down" if shift > 0 else "unchanged"


def findings_markdown(f: Mapping, lang: str = "en") -> str:
    """A findings dict (:func:`perfsim.analyses.findings.findings`) as Markdown."""
    zh = lang == "zh"
    n = f["numbers"]
    out = [f"# {'结论' if zh else 'Findings'}: {f['scenario']} {'对比' if zh else 'against'} {f['base']}", "",
           f"**{f['headline']['zh' if zh else 'en']}**", ""]
    if not zh:
        out += [f"({f['headline']['zh']})", ""]
    out += [f"## {'关键数字' if zh else 'Key numbers'}", "",
            f"| {'指标' if zh else 'measure'} | {'数值' if zh else 'value'} |", "|---|---|",
            f"| {'单位数' if zh else 'units'} | {n['units']} |",
            f"| {'排名变化的单位' if zh else 'units that change rank'} | {n['moved']} ({n['share_moved']:.0%}) |",
            f"| {'最大上升 / 下降（位）' if zh else 'largest move up / down (ranks)'} | {n['largest_up']} / {n['largest_down']} |",
            f"| {'平均名次变化（绝对值）' if zh else 'mean absolute rank change'} | {n['mean_abs_shift']:.2f} |",
            f"| {'等次变化的单位' if zh else 'units that change grade'} | {n['grade_changes']} |", ""]
    if n["grade_transitions"]:
        out += [", ".join(f"{t['from']} → {t['to']}: {t['units']}" for t in n["grade_transitions"]), ""]
    v = f.get("validity")
    if v:
        out += [f"## {'效度（合成世界）' if zh else 'Validity (synthetic worlds)'}", "",
                f"Kendall τ {'变化' if zh else 'change'}: {interval(v)} ({v['worlds']} "
                f"{'个世界' if zh else 'worlds'}, P(>0) = {v['p_helps']:.2f}, P(<0) = {v['p_hurts']:.2f}) → **{v['verdict']}**", ""]
    out += [f"## {'分组：谁得谁失（负值为上升）' if zh else 'Groups: who gains and who loses (negative = up)'}", "",
            f"| {'组' if zh else 'group'} | {'单位' if zh else 'units'} | {'平均名次变化' if zh else 'mean rank change'} | "
            f"{'上升' if zh else 'up'} | {'下降' if zh else 'down'} | {'平均总分变化' if zh else 'mean total change'} |",
            "|---|---|---|---|---|---|"]
    for g in f["groups"]:
        out.append(f"| {g['label'] if zh else g['label_en']} | {g['units']} | {g['mean_shift']:+.2f} | {g['moved_up']} | "
                   f"{g['moved_down']} | {g['mean_total_change']:+.2f} |")
    out += ["", f"## {'变动最大的单位' if zh else 'Biggest movers'}", ""]
    for m in f["movers"]:
        cause = m["main_cause_label"] if zh else m["main_cause_label_en"]
        out.append(f"- {m['name'] if zh else m['name_en']} ({m['unit_id']}, {m['category']}): {m['rank_base']} → "
                   f"{m['rank_scenario']} ({_signed_rank(m['shift'], lang)}), "
                   f"{'总分变化' if zh else 'total'} {m['total_change']:+.2f}; "
                   f"{'主要原因' if zh else 'mostly'}: {cause}")
    out += ["", f"## {'结论依赖的假设' if zh else 'What the result rests on'}", ""]
    out += [f"- {a['what']} ({a['basis']}): {a['note']}" for a in f["assumptions"]]
    return "\n".join(out) + "\n"


def levers_sentence(effects, base: str, worlds: int, lang: str = "en") -> str:
    """The levers against rater bias ranked by their validity effect, each with its
    interval and verdict (``effects``: :func:`perfsim.ensemble_effects` rows)."""
    rows = effects[effects["metric"] == "delta_tau_truth"].sort_values("median", ascending=False)
    moved = effects[effects["metric"] == "share_moved"].set_index("scenario")["median"]
    if lang == "zh":
        parts = [f"“{r.scenario}”{interval(r._asdict())}，{VERDICTS['zh'][r.verdict]}（约 {moved.get(r.scenario, float('nan')):.0%} 的单位名次变化）"
                 for r in rows.itertuples()]
        return f"在 {worlds} 个合理的合成世界中，相对“{base}”，排名与真实绩效的 Kendall τ 变化（中位数 [90% 区间]）：" + "；".join(parts) + "。"
    parts = [f"'{r.scenario}' {interval(r._asdict())}, {VERDICTS['en'][r.verdict]} (about {moved.get(r.scenario, float('nan')):.0%} "
             f"of units change rank)" for r in rows.itertuples()]
    return (f"Over {worlds} plausible synthetic worlds, against '{base}', the change of Kendall's tau between ranks "
            f"and true performance (median [90 % interval]) is: " + "; ".join(parts) + ".")
