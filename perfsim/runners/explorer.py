"""The live scenario explorer: a Panel app over :mod:`perfsim.analyses.explore`.

``perfsim explore [SCHEME] [--data DIR]`` serves it on 127.0.0.1; :func:`explore` returns the
same app for a notebook cell. Panel (HoloViz) was chosen because one app object runs both as
a local web server (Bokeh's Tornado server, every script served from the package itself, so
it works on an intranet without internet) and inline in JupyterLab, and because its Tabulator
table gives sorting and searching per column without code of ours in the browser.

Each browser session holds its own state (a :class:`perfsim.analyses.explore.Setting` and its
history for undo); what all sessions share (the base, the data, the posterior worlds, a cache
of background results per setting) is a :class:`Context`. The verdict over the worlds the
data allow and the rank bands run in one worker process, in chunks, so the page stays live;
a periodic callback shows their progress and picks up the results.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..analyses import explore as ex
from ..core.engine import score
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import DEFAULT_SEED, PARAMS_DIR
from ..core.scheme import Resolved, iter_nodes, load_scenario
from ..report.index_report import transition_html
from ..sources.synth import category_names_en
from ..report.plotting import GLOSSARY

#: a scenario name the explorer writes or opens: no path, no dots
NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
#: posterior worlds per verdict, in chunks of this many
VERDICT_WORLDS, VERDICT_CHUNK = 120, 10
#: Monte Carlo draws of the rank bands
BAND_DRAWS = 1000

TEXT: dict[str, tuple[str, str]] = {
    "title": ("绩效考核方案探索器", "Performance-scheme explorer"),
    "synthetic": ("合成数据（非真实城市）", "SYNTHETIC data (not a real city)"),
    "data": ("数据", "Data"),
    "base": ("基准方案", "Base scheme"),
    "points": ("各部分分值", "Points of each component"),
    "points_of": ("{label}（分）", "{label} (points)"),
    "rule": ("改动分值后，差额的去向", "Where the difference in points goes"),
    "proportional": ("按比例分给其他部分", "to the others in proportion"),
    "to": ("全部给「{label}」", "all to {label}"),
    "none": ("不再分配（总分随之变化）", "nowhere (the total changes)"),
    "keep": ("只改这一项（各部分须与总分相符）", "nowhere, only this value (must add up)"),
    "weights": ("节点权重", "Weights of the tree"),
    "node": ("节点", "Node"),
    "weight": ("权重", "Weight"),
    "levers": ("市领导评价的调节手段", "Leader-rating levers"),
    "convert": ("评分转换", "Conversion of ratings"),
    "mean": ("平均分（不转换）", "mean (no conversion)"),
    "rank": ("按名次转换（60–100）", "ranks mapped onto 60-100"),
    "tiers": ("强制分档 20/60/20", "forced tiers 20/60/20"),
    "adjust": ("评分调整", "Adjustment of ratings"),
    "adjust_none": ("不调整", "none"),
    "standardise": ("每位领导的评分标准化", "standardise each rater"),
    "experts": ("专家评议比重", "Expert panel share"),
    "no_experts": ("（数据中无专家评分）", " (none in the data)"),
    "quotas": ("等级配额", "Grade quotas"),
    "quota_of": ("「{grade}」占比", "Share graded {grade}"),
    "undo": ("撤销", "Undo"),
    "reset": ("重置", "Reset"),
    "save": ("保存为情景", "Save as scenario"),
    "save_name": ("情景名称（字母、数字、_）", "Scenario name (letters, digits, _)"),
    "saved": ("已保存：{path}（可用 perfsim validate 检查，用 perfsim batch 运行）",
              "Saved: {path} (check it with perfsim validate, run it with perfsim batch)"),
    "refused": ("未采纳：{message}", "Refused: {message}"),
    "ranking": ("排名", "Ranking"),
    "status": ("与基准方案相比：{moved} 个单位名次变化，{grades} 个单位等级变化。服务器用时 {ms} 毫秒。",
               "Against the base: {moved} units change rank, {grades} change grade. Server time {ms} ms."),
    "status_base": ("当前即基准方案。服务器用时 {ms} 毫秒。", "This is the base scheme. Server time {ms} ms."),
    "winners": ("谁得谁失：按单位类型", "Who gains and who loses, by unit type"),
    "transitions": ("等级变化矩阵（行：基准；列：当前）", "Grade transitions (rows: base; columns: now)"),
    "movers": ("名次变化最大的单位", "The largest rank moves"),
    "unit": ("选择单位", "Unit"),
    "split": ("名次变化的来源（Shapley 分解，负值为上升）", "Where the rank change comes from (Shapley; negative is up)"),
    "bands": ("名次的不确定性", "How sure is the rank"),
    "bands_text": ("在权重与评分误差的合理范围内（{draws} 次模拟），{unit} 的名次 90% 落在 {q05}–{q95}（中位 {median}）；"
                   "获评「{best}」的概率 {p_best}。",
                   "Within the reasonable doubt on weights and rating errors ({draws} draws), {unit}'s rank lies in "
                   "{q05}-{q95} with 90 % probability (median {median}); P({best}) = {p_best}."),
    "reach": ("权重可变时的最好与最差名次", "Best and worst rank when the weights may move"),
    "band": ("各部分分值可浮动（±比例）", "Each component's points may move by (share)"),
    "reach_go": ("计算", "Compute"),
    "reach_text": ("各部分分值在 ±{band:.0%} 内变动、总分不变时，{unit} 在本类 {peers} 个单位中最好第 {best} 名"
                   "（分值 {best_points}），最差第 {worst} 名（分值 {worst_points}）；当前第 {now} 名。",
                   "With each component's points within +-{band:.0%} and the total kept, {unit} can reach rank "
                   "{best} at best ({best_points}) and {worst} at worst ({worst_points}) of {peers}; now {now}."),
    "verdict": ("排名效度：当前方案是否更接近真实绩效", "Validity: does this setting rank closer to true performance"),
    "verdict_base": ("当前即基准方案，无需判断。", "This is the base scheme: nothing to judge."),
    "verdict_none": ("没有可用的参照表：{why}", "No reference table: {why}"),
    "verdict_wait": ("正在模拟本市数据所允许的合成世界……", "Simulating the worlds the city's data allow ..."),
    "verdict_text": ("在本市数据所允许的 {worlds} 个合成世界中，与基准方案相比，排名与真实绩效的一致性（Kendall τ）"
                     "变化中位 {median:+.3f}（90% 区间 {q05:+.3f} 至 {q95:+.3f}）；提高的概率 {p_helps:.2f}，"
                     "降低的概率 {p_hurts:.2f}（模拟误差约 ±{mc_se:.2f}）。结论：{word}。决定它的假设：{decided}。",
                     "Over {worlds} synthetic worlds the city's data allow, the agreement of the ranking with true "
                     "performance (Kendall tau) changes by a median {median:+.3f} against the base (90 % interval "
                     "{q05:+.3f} to {q95:+.3f}); P(helps) {p_helps:.2f}, P(hurts) {p_hurts:.2f} (simulation error about +-{mc_se:.2f}). Verdict: {word}. "
                     "The assumptions that decide it: {decided}."),
    "helps": ("提高效度", "helps"), "hurts": ("降低效度", "hurts"), "undetermined": ("尚不能确定", "undetermined"),
    "opened": ("已打开情景「{name}」", "Opened scenario '{name}'"),
    "col_unit_id": ("编号", "ID"), "col_name": ("单位", "Unit"), "col_category": ("类别", "Category"),
    "col_total": ("总分", "Total"), "col_rank": ("名次", "Rank"), "col_grade": ("等级", "Grade"),
    "col_rank_base": ("基准名次", "Base rank"), "col_shift": ("名次升降（+为上升）", "Rank change (+ is up)"),
    "col_grade_base": ("基准等级", "Base grade"), "col_total_change": ("总分变化", "Total change"),
    "col_group": ("单位类型", "Unit type"), "col_units": ("单位数", "Units"),
    "col_mean_total_change": ("平均总分变化", "Mean total change"), "col_rank_up": ("名次上升", "Rank up"),
    "col_rank_down": ("名次下降", "Rank down"), "col_grade_up": ("等级上升", "Grade up"),
    "col_grade_down": ("等级下降", "Grade down"),
    "central district": ("中心城区", "Central districts"), "outer district": ("远城区", "Outer districts"),
    "recut": ("类别或取整", "categories or rounding"), "bonus": ("加分", "Bonus"), "deduction": ("减分", "Deduction"),
    "axis_change": ("平均总分变化（分）", "Mean change of total (points)"),
    "axis_rank": ("名次", "Rank"), "axis_shapley": ("名次变化（负为上升）", "Rank change (negative is up)"),
    "unit_move": ("{unit}（{category}）：名次 {a} → {b}，等级 {ga} → {gb}，总分变化 {change:+.2f} 分。",
                  "{unit} ({category}): rank {a} -> {b}, grade {ga} -> {gb}, total {change:+.2f} points."),
    "before": ("基准", "Base"), "after": ("当前", "Now"),
}


def t(key: str, lang: str, **values: Any) -> str:
    zh, en = TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


# --------------------------------------------------------------------------- shared context

@dataclass
class Context:
    """What every session shares: the base, the data, labels, the posterior and the worker."""

    base: Resolved
    dataset: Any
    out: Path
    year: int | None = None
    seed: int = DEFAULT_SEED
    reference: Path | None = None
    scenario_dirs: tuple[Path, ...] = (PARAMS_DIR / "scenarios",)
    background: bool = True
    base_table: pd.DataFrame = field(init=False)
    verdict_why: str = ""
    worker: Any = None
    cache: dict = field(default_factory=dict)           # (kind, setting key) -> result
    running: dict = field(default_factory=dict)         # (kind, setting key) -> [futures]
    _draws: Any = None

    def __post_init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            self.base_table = score(self.base, self.dataset, self.year)
        units = self.dataset.units
        zh = dict(zip(units["unit_id"], units["name"].astype(str)))
        en = dict(zip(units["unit_id"], units["name_en"])) if "name_en" in units else {}
        self._names = {"zh": zh, "en": {u: (en.get(u) if isinstance(en.get(u), str) and en.get(u) else n)
                                        for u, n in zh.items()}}
        self.category_en = category_names_en()
        self.labels_zh = self.base.scheme.category_labels or {}
        if self.background:
            self._start_posterior()

    # labels ---------------------------------------------------------------
    def category(self, code: str, lang: str) -> str:
        if code in TEXT:
            return t(code, lang)
        if lang == "zh":
            return self.labels_zh.get(code, code)
        return self.category_en.get(code, code)

    def unit_name(self, unit: str, lang: str) -> str:
        return self._names[lang].get(unit, unit)

    def grade(self, grade: str, lang: str) -> str:
        return grade if lang == "zh" else GLOSSARY.get(grade, grade)

    def node_label(self, path: str, lang: str) -> str:
        node = dict(iter_nodes(self.base.scheme.tree)).get(path)
        if node is None:
            return t(path, lang) if path in TEXT else path
        text = node.label_en if lang == "en" and node.label_en else node.label
        return text or path.rsplit(".", 1)[-1]

    # background -----------------------------------------------------------
    def _start_posterior(self) -> None:
        from ..analyses.inference import posterior, reference_for
        from ..analyses.moments import data_moments
        from ..sources.synth import DEFAULT_PARAMS, synth_params

        folder = self.reference
        found, why = reference_for(folder, self.base) if folder is not None else (None, "no --reference given")
        if found is None:
            self.verdict_why = why
        else:
            table, facts = found
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PerfsimWarning)
                moments = data_moments(self.base, self.dataset, self.year, boot=0, seed=self.seed)
            observed = dict(zip(moments["moment"], moments["value"].astype(float)))
            post = posterior(table, observed)
            self._draws = post.draws(VERDICT_WORLDS, self.seed)
            self._knob_names = post.prior.names
            self._labels = _knob_labels()
            self._params = synth_params(DEFAULT_PARAMS)
        spec = self.base.scheme.uncertainty
        if spec is None:
            from ..uncertainty.robustness import default_spec

            spec = default_spec()
        import multiprocessing

        ctx = {"base": self.base, "dataset": self.dataset, "year": self.year, "seed": self.seed, "spec": spec,
               "draws": self._draws, "names": getattr(self, "_knob_names", ()),
               "params": getattr(self, "_params", None)}
        self.worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_worker_init, initargs=(ctx,))
        self.worker.submit(_worker_ready)           # start the worker now, not on the first change

    def submit(self, setting: ex.Setting) -> None:
        """Queue the verdict and the rank bands of ``setting``; stale queued work is cancelled."""
        if self.worker is None:
            return
        key = setting.key()
        for (kind, k), futures in list(self.running.items()):
            if k != key:
                for f in futures:
                    f.cancel()
                if all(f.done() for f in futures):
                    del self.running[(kind, k)]
        if ("bands", key) not in self.cache and ("bands", key) not in self.running:
            self.running[("bands", key)] = [self.worker.submit(_worker_bands, setting, BAND_DRAWS)]
        if self._draws is not None and not setting.is_base() and ("verdict", key) not in self.cache \
                and ("verdict", key) not in self.running:
            self.running[("verdict", key)] = [
                self.worker.submit(_worker_verdict, setting, list(range(a, min(a + VERDICT_CHUNK, VERDICT_WORLDS))))
                for a in range(0, VERDICT_WORLDS, VERDICT_CHUNK)]

    def progress(self, kind: str, setting: ex.Setting) -> tuple[Any, float]:
        """(result or None, share done) of a background job; a finished job moves to the cache."""
        key = (kind, setting.key())
        if key in self.cache:
            return self.cache[key], 1.0
        futures: list[Future] = self.running.get(key, [])
        if not futures:
            return None, 0.0
        done = [f for f in futures if f.done() and not f.cancelled()]
        if len(done) < len(futures):
            if any(f.cancelled() for f in futures):          # cancelled while another setting ran: queue again
                del self.running[key]
            return None, len(done) / len(futures)
        errors = [f.exception() for f in futures if f.exception() is not None]
        del self.running[key]
        if errors:
            result = {"error": str(errors[0])}
        elif kind == "verdict":
            effects = [e for f in futures for e in f.result()]
            result = ex.verdict_summary(self._draws, self._knob_names, effects, VERDICT_WORLDS, self._labels)
        else:
            result = futures[0].result()
        self.cache[key] = result
        return result, 1.0

    def close(self) -> None:
        """Stop the background worker now: queued work is cancelled and the running chunk ended
        (its result would only fill a cache that ends with this process)."""
        if self.worker is not None:
            processes = list((getattr(self.worker, "_processes", None) or {}).values())
            self.worker.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(timeout=5)
            self.worker = None

    # scenarios ------------------------------------------------------------
    def scenario_path(self, name: str) -> Path:
        """The scenario file ``name`` among the shipped scenarios and the saved ones; anything else
        (a path, a name outside those folders) is refused."""
        if not NAME.match(name or ""):
            raise PerfsimError(f"scenario name {name!r}: use letters, digits, _ and - only (no paths)")
        saved = self.out / "scenarios" / f"{name}.yaml"
        candidates = [saved] if saved.is_file() else []
        for folder in self.scenario_dirs:
            candidates += sorted(Path(folder).rglob(f"{name}.yaml"))
        if not candidates:
            raise PerfsimError(f"no scenario '{name}' among the saved scenarios ({self.out / 'scenarios'}) "
                               f"and {', '.join(str(d) for d in self.scenario_dirs)}")
        return candidates[0]

    def open_scenario(self, name: str) -> ex.Setting:
        if name == self.base.name:                    # the base itself (its report pages link here too)
            return ex.Setting()
        path = self.scenario_path(name)
        scenario = load_scenario(path)
        base_path = scenario.base_path
        if base_path is None or base_path.resolve() != self.base.path.resolve():
            raise PerfsimError(f"scenario '{name}' is a diff over {base_path}, not over the explorer's base "
                               f"{self.base.path.name}", where=path)
        return ex.setting_of(scenario)

    def save(self, setting: ex.Setting, name: str) -> Path:
        """Write ``setting`` as ``<out>/scenarios/<name>.yaml`` and check that the file resolves to
        the setting's scheme. An existing file is not overwritten."""
        if not NAME.match(name or ""):
            raise PerfsimError(f"scenario name {name!r}: use letters, digits, _ and - only (no paths)")
        folder = self.out / "scenarios"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.yaml"
        if path.exists():
            raise PerfsimError(f"{path} exists already: choose another name")
        expected = ex.resolve(self.base, setting, name)
        ref = os.path.relpath(self.base.path.resolve(), folder.resolve())
        text = ex.scenario_yaml(self.base, setting, name, ref, "saved from perfsim explore")
        from ..core.files import atomic_write_text

        atomic_write_text(path, text)
        loaded = load_scenario(path)
        if loaded.scheme.model_dump(exclude={"name", "description"}) != \
                expected.scheme.model_dump(exclude={"name", "description"}):
            path.unlink()
            raise PerfsimError(f"the written scenario {path} does not resolve to the setting; nothing saved")
        return path


def _knob_labels() -> dict[str, str]:
    from ..analyses.inference import _default_labels

    return _default_labels()


# --------------------------------------------------------------------------- worker process

_WORKER: dict[str, Any] = {}


def _worker_init(ctx: dict) -> None:
    from .executors import watch_parent

    watch_parent(os.getppid())       # the explorer killed outright: its worker ends too
    warnings.simplefilter("ignore")
    try:
        os.nice(10)                  # background work yields the CPU to the page's changes
    except OSError:
        pass
    _WORKER.update(ctx)


def _worker_ready() -> bool:
    return True


def _worker_verdict(setting: ex.Setting, indices: list[int]) -> list[tuple[int, float]]:
    w = _WORKER
    scheme = ex.resolve(w["base"], setting)
    return ex.verdict_worlds(w["base"], scheme, w["params"], w["names"], w["draws"], indices, w["seed"])


def _worker_bands(setting: ex.Setting, draws: int) -> pd.DataFrame:
    from ..uncertainty.model import compile_model
    from ..uncertainty.robustness import monte_carlo

    w = _WORKER
    scheme = ex.resolve(w["base"], setting) if not setting.is_base() else w["base"]
    model = compile_model(scheme, w["dataset"], w["spec"], w["year"])
    return monte_carlo(model, draws, w["seed"]).rank_stats


# --------------------------------------------------------------------------- the app

class Session:
    """One browser session: the state, its widgets and their results."""

    def __init__(self, ctx: Context, lang: str = "zh", scenario: str | None = None) -> None:
        import panel as pn

        self.pn = pn
        self.ctx = ctx
        self.lang = lang if lang in ("zh", "en") else "zh"
        self.setting = ex.Setting()
        self.history: list[ex.Setting] = []
        self.scheme = ctx.base
        self.view = ex.view(ctx.base_table, ctx.base, ctx.dataset, ctx.year)
        self.unit = str(self.view.movers["unit_id"].iloc[0]) if len(self.view.movers) else \
            str(ctx.base_table["unit_id"].iloc[0])
        self.last_ms = 0.0
        self._syncing = False
        self._message: tuple = (None, "danger", {})
        self._reach: tuple | None = None            # (band, frame) of the last rank reach, or (error,)
        self._build()
        if scenario:
            try:
                self.apply(ctx.open_scenario(scenario), record=False)
                self._say("opened", "success", name=scenario)
            except PerfsimError as exc:
                self._refuse(exc)

    # construction ---------------------------------------------------------
    def _build(self) -> None:
        pn = self.pn
        base = self.ctx.base.scheme
        self.comps = [k for k, c in (base.tree.children or {}).items() if not c.extra and c.points is not None]
        self.lang_switch = pn.widgets.RadioButtonGroup(options={"中文": "zh", "English": "en"}, value=self.lang,
                                                       css_classes=["ps-lang"])
        self.lang_switch.param.watch(self._on_lang, "value")
        self.points = {c: pn.widgets.FloatInput(value=float(base.tree.children[c].points), step=1.0, format="0[.]00",
                                                css_classes=[f"ps-points-{c}"], width=250)
                       for c in self.comps}
        for c, w in self.points.items():
            w.param.watch(lambda e, c=c: self._on_points(c, e), "value")
        self.rule = pn.widgets.Select(css_classes=["ps-rule"], width=250)
        self.weight_nodes = [p for p, n in iter_nodes(base.tree)
                             if n.weight is not None and n.points is None and n.children]
        self.node = pn.widgets.Select(css_classes=["ps-node"], width=250)
        self.node.param.watch(self._on_node, "value")
        self.weight = pn.widgets.FloatInput(step=1.0, css_classes=["ps-weight"], width=250)
        self.weight.param.watch(self._on_weight, "value")
        leader = self._leader_path()
        self.convert = pn.widgets.Select(css_classes=["ps-convert"], width=250, disabled=leader is None)
        self.convert.param.watch(self._on_convert, "value")
        self.adjust = pn.widgets.Select(css_classes=["ps-adjust"], width=250, disabled=leader is None)
        self.adjust.param.watch(self._on_adjust, "value")
        ratings = self.ctx.dataset.tables.get("leader_ratings")
        has_experts = ratings is not None and "panel" in ratings and (ratings["panel"] == "experts").any()
        self.experts = pn.widgets.FloatSlider(start=0.0, end=1.0, step=0.1, value=0.0, css_classes=["ps-experts"],
                                              width=250, disabled=leader is None or not has_experts)
        self.experts.param.watch(self._on_experts, "value")
        grading = base.grading
        self.quota_grades = list((grading.quota or {}).keys()) if grading and grading.method == "quota" else []
        self.quotas = {g: pn.widgets.FloatInput(value=float(grading.quota[g]), step=0.05, css_classes=[f"ps-quota-{i}"],
                                                width=250) for i, g in enumerate(self.quota_grades)}
        for g, w in self.quotas.items():
            w.param.watch(lambda e, g=g: self._on_quota(g, e), "value")
        self.undo_button = pn.widgets.Button(css_classes=["ps-undo"], width=120)
        self.undo_button.on_click(lambda e: self.undo())
        self.reset_button = pn.widgets.Button(css_classes=["ps-reset"], width=120)
        self.reset_button.on_click(lambda e: self.reset())
        self.save_name = pn.widgets.TextInput(value="explored_1", css_classes=["ps-save-name"], width=250)
        self.save_button = pn.widgets.Button(css_classes=["ps-save"], width=250)
        self.save_button.on_click(lambda e: self.save())
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["ps-message"], width=260)
        # results
        self.title = pn.pane.Markdown(css_classes=["ps-title"])
        self.status = pn.pane.Markdown(css_classes=["ps-status"])
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=420,
                                          sizing_mode="stretch_width", selectable=1, css_classes=["ps-table"],
                                          configuration={"renderVertical": "basic"},
                                          header_filters={"name": {"type": "input", "func": "like"},
                                                          "unit_id": {"type": "input", "func": "like"}})
        self.table.param.watch(self._on_select, "selection")
        self.groups_table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, layout="fit_data",
                                                 css_classes=["ps-groups"])
        self.groups_fig, self.groups_src = _bar_figure()
        self.transitions = pn.pane.HTML(css_classes=["ps-transitions"])
        self.slope_fig, self.slope_src = _slope_figure()
        self.unit_select = pn.widgets.AutocompleteInput(case_sensitive=False, search_strategy="includes",
                                                        min_characters=1, restrict=False, css_classes=["ps-unit"], width=300)
        self.unit_select.param.watch(self._on_unit, "value")
        self.split_fig, self.split_src = _bar_figure(height=220)
        self.unit_move = pn.pane.Markdown(css_classes=["ps-unit-move"])
        self.bands = pn.pane.Markdown(css_classes=["ps-bands"])
        self.band = pn.widgets.FloatInput(value=0.2, step=0.05, css_classes=["ps-band"], width=150)
        self.reach_button = pn.widgets.Button(css_classes=["ps-reach"], width=100)
        self.reach_button.on_click(lambda e: self.reach())
        self.reach_text = pn.pane.Markdown(css_classes=["ps-reach-text"])
        self.verdict = pn.pane.Markdown(css_classes=["ps-verdict"])
        self.verdict_progress = pn.indicators.Progress(value=0, max=100, width=300, visible=False,
                                                       css_classes=["ps-verdict-progress"])
        self.h = {k: pn.pane.Markdown() for k in ("points", "weights", "levers", "quotas", "save", "ranking",
                                                     "winners", "transitions", "movers", "unit", "split", "bands",
                                                     "reach", "verdict")}
        side = pn.Column(self.lang_switch, self.message, self.h["points"], *self.points.values(), self.rule,
                         self.h["weights"], self.node, self.weight, self.h["levers"], self.convert, self.adjust,
                         self.experts, self.h["quotas"], *self.quotas.values(),
                         pn.Row(self.undo_button, self.reset_button), self.h["save"], self.save_name,
                         self.save_button, width=290, css_classes=["ps-side"])
        main = pn.Column(self.title, self.status, self.h["verdict"], self.verdict_progress, self.verdict,
                         self.h["ranking"], self.table,
                         self.h["winners"], pn.FlexBox(self.groups_fig, self.groups_table),
                         self.h["transitions"], self.transitions, self.h["movers"], self.slope_fig,
                         self.h["unit"], self.unit_select, self.unit_move, self.h["split"], self.split_fig,
                         self.h["bands"], self.bands, self.h["reach"], pn.Row(self.band, self.reach_button),
                         self.reach_text, sizing_mode="stretch_width")
        self.layout = pn.Row(side, main, sizing_mode="stretch_width")
        self._labels()
        self._sync_controls()
        self._show()
        self._status()                # the page opens saying it shows the base

    def _leader_path(self) -> str | None:
        for path, node in iter_nodes(self.ctx.base.scheme.tree):
            if node.source == "leader_ratings" and node.rule == "rating":
                return path
        return None

    # labels ---------------------------------------------------------------
    def _labels(self) -> None:
        lang, ctx = self.lang, self.ctx
        for key, heading in self.h.items():          # each heading's key is its text's
            heading.object = f"### {t(key, lang)}"
        for c, w in self.points.items():
            w.name = t("points_of", lang, label=ctx.node_label(f"tree.{c}", lang))
        options = {t("proportional", lang): "proportional"}
        options.update({t("to", lang, label=ctx.node_label(f"tree.{c}", lang)): c for c in self.comps})
        options[t("none", lang)] = "none"
        options[t("keep", lang)] = "keep"
        value = self.rule.value or "proportional"
        self.rule.name, self.rule.options, self.rule.value = t("rule", lang), options, value
        self.node.name = t("node", lang)
        node_value = self.node.value or (self.weight_nodes[0] if self.weight_nodes else None)
        self.node.options = {self._path_label(p): p for p in self.weight_nodes}
        self.node.value = node_value
        self.weight.name = t("weight", lang)
        self.convert.name = t("convert", lang)
        self.convert.options = {t("mean", lang): "mean", t("rank", lang): "rank", t("tiers", lang): "tiers"}
        self.adjust.name = t("adjust", lang)
        self.adjust.options = {t("adjust_none", lang): "none", t("standardise", lang): "standardise"}
        self.experts.name = t("experts", lang) + ("" if not self.experts.disabled else t("no_experts", lang))
        for g, w in self.quotas.items():
            w.name = t("quota_of", lang, grade=ctx.grade(g, lang))
        self.undo_button.name, self.reset_button.name = t("undo", lang), t("reset", lang)
        self.save_name.name, self.save_button.name = t("save_name", lang), t("save", lang)
        self.band.name, self.reach_button.name = t("band", lang), t("reach_go", lang)
        self.unit_select.name = t("unit", lang)
        self.unit_select.options = {self._unit_label(u): u for u in ctx.base_table["unit_id"]}
        self.unit_select.value = self._unit_label(self.unit)
        synthetic = " · " + t("synthetic", lang) if _is_synthetic(ctx.dataset) else ""
        self.title.object = (f"## {t('title', lang)}\n{t('base', lang)}：{ctx.base.path.name}{synthetic}"
                             if lang == "zh" else f"## {t('title', lang)}\n{t('base', lang)}: {ctx.base.path.name}"
                             f"{synthetic}")
        self.table.titles = {c: t(f"col_{c}", lang) for c in ("unit_id", "name", "category", "total", "rank", "grade",
                                                              "rank_base", "shift", "grade_base", "total_change")}
        self.groups_table.titles = {c: t(f"col_{c}", lang) for c in ("group", "units", "mean_total_change", "rank_up",
                                                                     "rank_down", "grade_up", "grade_down")}

    def _path_label(self, path: str) -> str:
        parts = path.split(".")
        return " / ".join(self.ctx.node_label(".".join(parts[:i + 1]), self.lang) for i in range(1, len(parts)))

    def _unit_label(self, unit: str) -> str:
        return f"{self.ctx.unit_name(unit, self.lang)} ({unit})"

    # state changes -----------------------------------------------------------
    def apply(self, setting: ex.Setting, record: bool = True) -> bool:
        """Resolve, score and show ``setting``; a refused setting leaves everything as it was."""
        start = time.perf_counter()
        try:
            scheme = ex.resolve(self.ctx.base, setting) if not setting.is_base() else self.ctx.base
            new_view = ex.view(self.ctx.base_table, scheme, self.ctx.dataset, self.ctx.year)
        except PerfsimError as exc:
            self._refuse(exc)
            self._sync_controls()
            return False
        if record:
            self.history.append(self.setting)
        self.setting, self.scheme, self.view = setting, scheme, new_view
        self._say(None)
        self._sync_controls()
        self._show()
        self.ctx.submit(setting)
        self.last_ms = (time.perf_counter() - start) * 1000
        self._status()
        return True

    def _refuse(self, exc: PerfsimError) -> None:
        self._say("refused", "danger", message=" ".join(str(exc).split()))

    def _say(self, key: str | None, kind: str = "danger", **values: Any) -> None:
        """Show a message above the controls (None hides it); it follows the language switch."""
        self._message = (key, kind, values)
        if key is None:
            self.message.visible = False
            return
        self.message.object = t(key, self.lang, **values)
        self.message.alert_type = kind
        self.message.visible = True

    def undo(self) -> None:
        if self.history:
            self.apply(self.history.pop(), record=False)

    def reset(self) -> None:
        if not self.setting.is_base():
            self.apply(ex.Setting())

    def save(self) -> Path | None:
        try:
            path = self.ctx.save(self.setting, self.save_name.value.strip())
        except PerfsimError as exc:
            self._refuse(exc)
            return None
        shown = os.path.relpath(path, Path.cwd()) if path.is_absolute() else str(path)
        self._say("saved", "success", path=shown)
        return path

    # control events --------------------------------------------------------
    def _on_points(self, component: str, event) -> None:
        if self._syncing:
            return
        value = event.new
        if value is None or not math.isfinite(value):
            self._sync_controls()
            return
        rule = self.rule.value or "proportional"
        if rule == "keep":
            self.apply(self.setting.with_set(f"tree.{component}.points", float(value)))
        else:
            self.apply(self.setting.with_points(component, float(value), rule))

    def _on_node(self, event) -> None:
        if not self._syncing:
            self._sync_controls()

    def _on_weight(self, event) -> None:
        if self._syncing or self.node.value is None or event.new is None:
            return
        path = self.node.value
        base = dict(iter_nodes(self.ctx.base.scheme.tree))[path].weight
        self.apply(self.setting.with_set(f"{path}.weight", None if event.new == base else float(event.new)))

    def _lever(self, field_: str, value: Any, extra: Mapping[str, Any] | None = None) -> None:
        path = self._leader_path()
        setting = self.setting.with_set(f"{path}.{field_}", value)
        for k, v in (extra or {}).items():
            setting = setting.with_set(f"{path}.{k}", v)
        self.apply(setting)

    def _on_convert(self, event) -> None:
        if self._syncing:
            return
        if event.new == "rank":
            self._lever("convert", "rank", {"floor": 0.6, "tiers": None})
        elif event.new == "tiers":
            self._lever("convert", "tiers", {"floor": None, "tiers": [[0.2, 95], [0.6, 85], [0.2, 75]]})
        else:
            self._lever("convert", None, {"floor": None, "tiers": None})

    def _on_adjust(self, event) -> None:
        if not self._syncing:
            self._lever("adjust", None if event.new == "none" else event.new)

    def _on_experts(self, event) -> None:
        if self._syncing:
            return
        share = round(float(event.new), 4)
        self._lever("panels", None if share == 0 else {"leaders": round(1 - share, 4), "experts": share})

    def _on_quota(self, grade: str, event) -> None:
        if self._syncing or event.new is None:
            return
        quota = dict(self.scheme.scheme.grading.quota)
        quota[grade] = float(event.new)
        base = dict(self.ctx.base.scheme.grading.quota)
        self.apply(self.setting.with_set("grading.quota", None if quota == base else quota))

    def _on_select(self, event) -> None:
        if event.new:
            frame = self.table.value
            self.select(str(frame.iloc[event.new[0]]["unit_id"]))

    def _on_unit(self, event) -> None:
        if self._syncing or not event.new:
            return
        unit = self.find_unit(event.new)
        if unit is not None:
            self.select(unit)

    def find_unit(self, text: str) -> str | None:
        """The unit a search names: its label, its id, or its name in either language."""
        text = text.strip()
        match = re.search(r"\(([^()]+)\)\s*$", text)
        ids = list(self.ctx.base_table["unit_id"])
        if match and match.group(1) in ids:
            return match.group(1)
        for unit in ids:
            if text in (unit, self.ctx.unit_name(unit, "zh"), self.ctx.unit_name(unit, "en")):
                return unit
        return None

    def select(self, unit: str) -> None:
        self.unit = unit
        self._syncing = True
        try:
            self.unit_select.value = self._unit_label(unit)
        finally:
            self._syncing = False
        self._show_unit()
        self._reach = None
        self._show_reach()

    def _on_lang(self, event) -> None:
        self.lang = event.new
        self._syncing = True
        try:
            self._labels()
        finally:
            self._syncing = False
        key, kind, values = self._message
        self._say(key, kind, **values)
        self._show_reach()
        self._show()
        self._status()
        self.poll()

    # showing -----------------------------------------------------------------
    def _sync_controls(self) -> None:
        """Every control shows the current setting's value (after a change, a refusal, an undo)."""
        scheme = self.scheme.scheme
        self._syncing = True
        try:
            for c, w in self.points.items():
                w.value = float(scheme.tree.children[c].points)
            nodes = dict(iter_nodes(scheme.tree))
            if self.node.value in nodes:
                self.weight.value = float(nodes[self.node.value].weight)
            leader = self._leader_path()
            if leader is not None:
                node = nodes[leader]
                self.convert.value = node.convert or "mean"
                self.adjust.value = node.adjust if node.adjust in ("standardise",) else "none"
                panels = node.panels or {}
                total = sum(panels.values()) or 1.0
                self.experts.value = round(panels.get("experts", 0.0) / total, 4)
            for g, w in self.quotas.items():
                w.value = float(scheme.grading.quota.get(g, 0.0))
        finally:
            self._syncing = False

    def _status(self) -> None:
        ms = f"{self.last_ms:.0f}"
        if self.setting.is_base():
            self.status.object = t("status_base", self.lang, ms=ms)
        else:
            self.status.object = t("status", self.lang, moved=self.view.facts["moved"],
                                   grades=self.view.facts["grade_changes"], ms=ms)

    def _show(self) -> None:
        lang, ctx, v = self.lang, self.ctx, self.view
        table = v.table
        shown = pd.DataFrame({
            "unit_id": table["unit_id"], "name": [ctx.unit_name(u, lang) for u in table["unit_id"]],
            "category": [ctx.category(c, lang) for c in table["category"]],
            "total": table["total_scenario"].round(2), "rank": table["rank_scenario"],
            "grade": [ctx.grade(g, lang) for g in table["grade_scenario"]],
            "rank_base": table["rank_base"], "shift": -table["shift"],
            "grade_base": [ctx.grade(g, lang) for g in table["grade_base"]],
            "total_change": table["total_change"].round(2)})
        self.table.value = shown
        groups = v.groups.assign(group=[ctx.category(g, lang) for g in v.groups["group"]],
                                 mean_total_change=v.groups["mean_total_change"].round(2))
        self.groups_table.value = groups
        change = groups["mean_total_change"].to_numpy(dtype=float)
        self.groups_src.data = {"y": list(groups["group"]), "x": change,
                                "color": ["#2a9d4b" if c > 0 else "#c0392b" if c < 0 else "#999999" for c in change]}
        _relabel_bar(self.groups_fig, list(groups["group"]), t("axis_change", lang))
        self.transitions.object = transition_html(v.transitions, lambda g: ctx.grade(g, lang))
        m = v.movers
        names = [f"{ctx.unit_name(u, lang)}（{ctx.category(c, lang)}）" if lang == "zh" else
                 f"{ctx.unit_name(u, lang)} ({ctx.category(c, lang)})" for u, c in zip(m["unit_id"], m["category"])]
        seen: dict[int, int] = {}
        dy = []
        for r in m["rank_scenario"]:          # labels at the same end rank stack downwards
            dy.append(-6 - 13 * seen.get(int(r), 0))
            seen[int(r)] = seen.get(int(r), 0) + 1
        names = [f"{n} {a}→{b}" for n, a, b in zip(names, m["rank_base"], m["rank_scenario"])]
        self.slope_src.data = {"x0": [0.0] * len(m), "x1": [1.0] * len(m), "y0": list(m["rank_base"]),
                               "y1": list(m["rank_scenario"]), "name": names, "dy": dy,
                               "color": ["#2a9d4b" if s < 0 else "#c0392b" for s in m["shift"]]}
        self.slope_fig.xaxis.major_label_overrides = {0: t("before", lang), 1: t("after", lang)}
        self.slope_fig.yaxis.axis_label = t("axis_rank", lang)
        self._show_unit()
        self.poll()

    def _show_unit(self) -> None:
        lang = self.lang
        split = ex.unit_split(self.ctx.base_table, self.view, self.unit)
        parts = [self.ctx.node_label(f"tree.{p}", lang) if p not in ("bonus", "deduction", "recut") else t(p, lang)
                 for p in split["part"]]
        values = split["shapley"].to_numpy(dtype=float)
        self.split_src.data = {"y": parts, "x": values,
                               "color": ["#2a9d4b" if x < 0 else "#c0392b" if x > 0 else "#999999" for x in values]}
        _relabel_bar(self.split_fig, parts, t("axis_shapley", lang))
        row = self.view.table.set_index("unit_id").loc[self.unit]
        self.unit_move.object = t("unit_move", lang, unit=self.ctx.unit_name(self.unit, lang),
                                  category=self.ctx.category(row["category"], lang), a=int(row["rank_base"]),
                                  b=int(row["rank_scenario"]), ga=self.ctx.grade(row["grade_base"], lang),
                                  gb=self.ctx.grade(row["grade_scenario"], lang), change=float(row["total_change"]))
        self.bands.object = ""

    def poll(self) -> None:
        """Show the background results of the current setting (called every half second)."""
        lang = self.lang
        if self.setting.is_base():
            self.verdict.object = t("verdict_base", lang)
            self.verdict_progress.visible = False
        elif self.ctx._draws is None:
            self.verdict.object = t("verdict_none", lang, why=self.ctx.verdict_why or "-")
            self.verdict_progress.visible = False
        else:
            result, share = self.ctx.progress("verdict", self.setting)
            if result is None:
                if share == 0 and not self.ctx.running.get(("verdict", self.setting.key())):
                    self.ctx.submit(self.setting)
                self.verdict.object = t("verdict_wait", lang)
                self.verdict_progress.visible = True
                self.verdict_progress.value = int(share * 100)
            elif "error" in result:
                self.verdict.object = t("refused", lang, message=result["error"])
                self.verdict_progress.visible = False
            else:
                self.verdict_progress.visible = False
                self.verdict.object = self._verdict_text(result)
        bands, _ = self.ctx.progress("bands", self.setting)
        if isinstance(bands, dict):
            self.bands.object = t("refused", lang, message=bands.get("error", ""))
        elif isinstance(bands, pd.DataFrame):
            row = bands.set_index("unit_id").loc[self.unit]
            best = self.scheme.scheme.grading.grades[0] if self.scheme.scheme.grading else ""
            p_best = row.get(f"p_{best}", float("nan"))
            self.bands.object = t("bands_text", lang, draws=BAND_DRAWS, unit=self.ctx.unit_name(self.unit, lang),
                                  q05=int(row["rank_q05"]), q95=int(row["rank_q95"]), median=int(row["rank_median"]),
                                  best=self.ctx.grade(best, lang), p_best=f"{p_best:.2f}")

    def _verdict_text(self, r: Mapping[str, Any]) -> str:
        lang = self.lang
        sep = "；" if lang == "zh" else "; "
        decided = sep.join(f"{(d['label'] if lang == 'zh' and d['label'] else d['knob'])} "
                           f"({d['share']:.0%})" for d in r["decided_by"])
        return t("verdict_text", lang, worlds=r["worlds"], median=r["median"], q05=r["q05"], q95=r["q95"],
                 p_helps=r["p_helps"], p_hurts=r["p_hurts"], mc_se=r["mc_se"], word=f"**{t(r['verdict'], lang)}**", decided=decided)

    def reach(self) -> None:
        """The best and worst rank of the selected unit within the band (computed on demand)."""
        try:
            band = float(self.band.value)
            frame = ex.rank_reach(self.scheme, self.ctx.dataset, self.unit, band, self.ctx.year).set_index("end")
            self._reach = (band, frame)
        except (PerfsimError, TypeError, ValueError) as exc:
            self._reach = (str(exc),)
        self._show_reach()

    def _show_reach(self) -> None:
        lang = self.lang
        if self._reach is None:
            self.reach_text.object = ""
            return
        if len(self._reach) == 1:
            self.reach_text.object = t("refused", lang, message=self._reach[0])
            return
        band, frame = self._reach

        def pts(end: str) -> str:
            return ", ".join(f"{self.ctx.node_label(f'tree.{c}', lang)} {frame.loc[end, f'points:{c}']:.1f}"
                             for c in self.comps)

        self.reach_text.object = t("reach_text", lang, band=band, unit=self.ctx.unit_name(self.unit, lang),
                                   peers=int(frame.loc["best", "peers"]), best=int(frame.loc["best", "rank_engine"]),
                                   worst=int(frame.loc["worst", "rank_engine"]), now=int(frame.loc["best", "rank_now"]),
                                   best_points=pts("best"), worst_points=pts("worst"))


def _is_synthetic(dataset) -> bool:
    origin = str(getattr(dataset, "origin", "") or "")
    return "synthetic" in origin.lower()


def _bar_figure(height: int = 260):
    from bokeh.models import ColumnDataSource, FactorRange
    from bokeh.plotting import figure

    src = ColumnDataSource({"y": [], "x": [], "color": []})
    fig = figure(y_range=FactorRange(), height=height, width=460, toolbar_location=None, tools="")
    fig.hbar(y="y", right="x", height=0.7, color="color", source=src)
    fig.ygrid.grid_line_color = None
    return fig, src


def _relabel_bar(fig, factors: list[str], axis: str) -> None:
    fig.y_range.factors = list(dict.fromkeys(factors))
    fig.xaxis.axis_label = axis


def _slope_figure():
    from bokeh.models import ColumnDataSource, LabelSet
    from bokeh.plotting import figure

    src = ColumnDataSource({"x0": [], "x1": [], "y0": [], "y1": [], "name": [], "color": [], "dy": []})
    fig = figure(height=440, width=860, x_range=(-0.1, 2.4), toolbar_location=None, tools="")
    fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", color="color", line_width=2, source=src)
    fig.scatter(x="x1", y="y1", color="color", size=6, source=src)
    fig.add_layout(LabelSet(x="x1", y="y1", text="name", x_offset=8, y_offset="dy", text_font_size="11px", source=src))
    fig.y_range.flipped = True
    fig.xaxis.ticker = [0, 1]
    fig.xgrid.grid_line_color = None
    return fig, src


# --------------------------------------------------------------------------- entry points

def context(scheme: str | Path | None = None, data: str | Path | None = None, *, out: str | Path = "outputs/explore",
            reference: str | Path | None = "outputs/reference", year: int | None = None, seed: int = DEFAULT_SEED,
            background: bool = True) -> Context:
    """The shared context of an explorer over ``scheme`` (default: params/baseline.yaml) and ``data``
    (default: the bundled SYNTHETIC world)."""
    from ..sources.world import open_dataset

    base = load_scenario(scheme or PARAMS_DIR / "baseline.yaml")
    dataset = open_dataset(data)
    ref = Path(reference) if reference is not None else None
    return Context(base=base, dataset=dataset, out=Path(out), year=year, seed=seed, reference=ref,
                   background=background)


def app(ctx: Context, lang: str = "zh", scenario: str | None = None, poll_ms: int = 500):
    """One session's app (a Panel layout) with its periodic poll of the background work."""
    import panel as pn

    session = Session(ctx, lang, scenario)
    if ctx.worker is not None:
        callback = pn.state.add_periodic_callback(session.poll, period=poll_ms)
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: callback.stop())
    session.layout.session = session          # for tests and notebooks
    return session.layout


def explore(scheme: str | Path | None = None, data: str | Path | None = None, **options: Any):
    """The explorer for a notebook cell: ``perfsim.explore()`` shows it (after ``pn.extension``)."""
    import panel as pn

    pn.extension("tabulator")
    lang = options.pop("lang", "zh")
    return app(context(scheme, data, **options), lang)


def serve(ctx: Context, host: str = "127.0.0.1", port: int = 5006, show_address=print) -> None:
    """Serve the explorer until interrupted; every session reads ``?scenario=NAME`` and ``?lang=en``."""
    import panel as pn

    pn.extension("tabulator")

    def session():
        args = pn.state.session_args or {}
        scenario = (args.get("scenario") or [b""])[0].decode(errors="replace") or None
        lang = (args.get("lang") or [b"zh"])[0].decode(errors="replace")
        return app(ctx, lang, scenario)

    server = pn.serve({"/": session}, address=host, port=port, show=False, start=False,
                      title=t("title", "zh"), websocket_origin=[f"{host}:{port}", f"localhost:{port}"])
    server.start()
    show_address(f"perfsim explore: open http://{host}:{port}/ (Ctrl-C stops it)")
    try:
        server.io_loop.start()
    finally:
        ctx.close()
        server.stop()


__all__ = ["Context", "Session", "context", "app", "explore", "serve", "TEXT"]
