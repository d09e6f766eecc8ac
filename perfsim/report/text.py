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


def sweep_sentence(knob: str, effects: Sequence[Mapping], lang: str = "en") -> str:
    """Where along a rater-behaviour sweep the effect helps, hurts or is undetermined."""
    groups: dict[str, list[str]] = {"helps": [], "hurts": [], "undetermined": []}
    for row in effects:
        groups[row["verdict"]].append(f"{row['value']:g}")
    label = knob_label(knob, lang)
    parts = []
    for verdict in ("helps", "hurts", "undetermined"):
        if groups[verdict]:
            values = ", ".join(groups[verdict])
            if lang == "zh":
                word = {"helps": "改善效度", "hurts": "损害效度", "undetermined": "不确定"}[verdict]
                parts.append(f"{label}为 {values} 时{word}")
            else:
                parts.append(f"{verdict} at {label} {values}")
    return ("；".join(parts) + "。") if lang == "zh" else ("; ".join(parts) + ".")
