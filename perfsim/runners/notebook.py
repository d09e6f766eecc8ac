"""The one set-up every notebook calls: its parameters in, everything it needs out.

A notebook's ``parameters`` cell holds raw values only (``scenario``, ``data``, ``year``,
``seed``, ``out_dir``); :func:`setup_notebook` turns them into the resolved scenario, its
base, the dataset, the year and the output folder, sets up fonts for Chinese labels, and
prints one line saying what runs on what. Paths are taken as given when they exist from
the working directory, else relative to the project folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.paths import PROJECT_DIR, resolve_path, shown_path

if TYPE_CHECKING:      # the data contract and the scheme import pandas and pydantic: only
    from ..core.contract import Dataset       # a notebook's set-up needs them (a batch's
    from ..core.scheme import Resolved        # workers read skipped.json without them)


def default_out(name: str) -> Path:
    """Where a notebook run without ``out_dir`` saves: ``outputs/notebooks/<name>`` in the
    project, or under ``PERFSIM_NOTEBOOK_OUT`` when set (the test suite keeps its runs there)."""
    import os

    root = os.environ.get("PERFSIM_NOTEBOOK_OUT")
    return Path(root) / name if root else PROJECT_DIR / "outputs" / "notebooks" / name


@dataclass(frozen=True)
class Notebook:
    """What a notebook works with."""

    scenario: Resolved           # the scenario (or scheme) the notebook is run for
    base: Resolved               # the scheme it is compared with: its base, or itself
    dataset: Dataset
    data_path: Path              # the folder or file read
    synthetic: bool              # True for a synthetic world (the bundled one or perfsim synth's)
    year: int | None             # None: the latest year in the data
    seed: int
    out: Path                    # where tables/ and figures/ go
    name: str = ""               # the notebook's name (its conclusion.json says it)

    @property
    def compares(self) -> bool:
        """True when the scenario has a base of its own to compare with."""
        return self.base is not self.scenario

    def skip(self, analysis: str, reason: str) -> None:
        """Say that ``analysis`` is skipped and why: a warning in the notebook, and a line in
        ``skipped.json`` of the output folder (the batch records it with the job)."""
        import json
        import warnings

        from ..core.errors import PerfsimWarning
        from ..core.files import write_json

        warnings.warn(f"{analysis} skipped: {reason}", PerfsimWarning, stacklevel=2)
        path = self.out / "skipped.json"
        done = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        done = [d for d in done if d.get("analysis") != analysis] + [{"analysis": analysis, "reason": reason}]
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(path, done)

    def conclude(self, zh: str, en: str) -> None:
        """The notebook's conclusion, filled from its results: shown in Chinese with the English
        on the page's switch, with every analysis it skipped and why, and saved as
        ``conclusion.json`` (the batch's index shows it beside the page)."""
        from IPython.display import Markdown, display

        from ..core.files import write_json

        skipped = skipped_analyses(self.out)
        if skipped:
            zh += "\n\n" + "\n".join(f"- 未做：{s['analysis']}（{s['reason']}）" for s in skipped)
            en += "\n\n" + "\n".join(f"- skipped: {s['analysis']}: {s['reason']}" for s in skipped)
        display(Markdown(f"<div class=\"l-zh\">\n\n{zh}\n\n</div>\n\n<div class=\"l-en\">\n\n{en}\n\n</div>"))
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "conclusion.json", {"notebook": self.name, "scenario": self.scenario.name,
                                                   "zh": zh, "en": en})

    def show(self, result, lang: str = "zh") -> None:
        """Show an analysis's Result here and save its tables and figures (:func:`show_result`)."""
        show_result(self, result, lang)

    def fits_worlds(self, analysis: str, *schemes: Resolved) -> bool:
        """True when every scheme scores the synthetic world, so that ``analysis`` can judge
        them over synthetic worlds inferred from any data (a city's own included);
        otherwise skipped with the reason (see :meth:`skip`)."""
        from ..analyses.ensemble import fits_synthetic

        why = fits_synthetic(*(schemes or (self.base, self.scenario)))
        if why:
            self.skip(analysis, f"the schemes do not fit the synthetic world ({why})")
            return False
        return True

    def needs_synthetic(self, analysis: str, *schemes: Resolved) -> bool:
        """True when ``analysis`` (which studies the scheme on synthetic worlds) can run:
        the data are synthetic and every scheme scores the synthetic world. Otherwise the
        analysis is skipped with the reason (see :meth:`skip`)."""
        from ..analyses.ensemble import fits_synthetic

        if not self.synthetic:
            self.skip(analysis, "the data are not synthetic; this analysis studies the scheme on synthetic "
                                "worlds calibrated to the source document's city, which says nothing about "
                                "these data (run the notebook with data='' for it)")
            return False
        why = fits_synthetic(*(schemes or (self.base, self.scenario)))
        if why:
            self.skip(analysis, f"the schemes do not fit the synthetic world ({why})")
            return False
        return True


def setup_notebook(name: str, scenario: str, data: str = "", year: int = 0, seed: int = 0,
                   out_dir: str = "", fonts: bool = True, quiet: bool = False) -> Notebook:
    """Resolve a notebook's raw parameters (see the module docstring).

    ``out_dir`` empty means :func:`default_out`.
    """
    from ..core.scheme import load_scenario
    from ..sources.readers import load_dataset
    from ..sources.world import data_path, is_bundled

    resolved = load_scenario(resolve_path(scenario))
    base = load_scenario(resolved.base_path) if resolved.base_path else resolved
    path = data_path(resolve_path(data) if data else None)
    dataset = load_dataset(path)
    out = resolve_path(out_dir) if out_dir else default_out(name)
    if fonts:
        from ..report.plotting import setup_fonts

        setup_fonts()
    nb = Notebook(scenario=resolved, base=base, dataset=dataset, data_path=path,
                  synthetic=is_bundled(data) or dataset.synthetic, year=year or None, seed=int(seed),
                  out=Path(out), name=name)
    for stale in (nb.out / "skipped.json", nb.out / "conclusion.json"):
        if stale.exists():          # from an earlier run into the same folder
            stale.unlink()
    readable_outputs(nb.out)
    if not quiet:
        origin = ("内置合成数据（SYNTHETIC，非真实城市）" if is_bundled(data)
                  else f"{shown_path(path)}（合成数据 SYNTHETIC）" if nb.synthetic else shown_path(path))
        against = f"，与基准方案「{base.name}」比较" if nb.compares else ""
        print(f"方案「{resolved.name}」{against}；数据：{origin}，{len(dataset.units)} 个单位。")
    return nb


#: how a notebook's outputs show the two languages: Chinese unless the page's switch says English
#: (the exported page's switch sets ``body.lang-en``; a live notebook shows Chinese)
LANG_STYLE = ("<style>.l-en {display: none;} body.lang-en .l-en {display: inline;} body.lang-en div.l-en,"
              " body.lang-en p.l-en {display: block;} body.lang-en .l-zh {display: none;}</style>")


def readable_table(frame, limit: int = 300) -> str:
    """A DataFrame as a notebook shows it (:func:`perfsim.report.publish.readable_html`, the
    pages' own: no row numbers, numbers rounded for reading, scrolling in its box)."""
    from ..report.publish import readable_html

    return readable_html(frame, limit=limit, bilingual=False)


def show_result(nb: "Notebook", result, lang: str = "zh") -> None:
    """Show an analysis's Result in a notebook: its sentences (Chinese, English on the page's
    switch), its figures (saved under ``figures/``) and the tables it shows (all saved under
    ``tables/``): the same Result the CLI publishes."""
    import html

    from IPython.display import HTML, display

    from ..report.outputs import save_figure, save_table
    from ..report.publish import draw, readable_html, text_html

    for name, table in result.tables.items():
        save_table(table, name, nb.out)
    display(HTML(LANG_STYLE + text_html(result)))
    for name, chart in result.figures.items():
        fig = draw(result, name)
        save_figure(fig, name, nb.out)              # (shown there, and closed)
    for table, zh, en in result.shown:
        display(HTML(f"<h4><span class='l-zh'>{html.escape(zh)}</span><span class='l-en'>{html.escape(en)}</span></h4>"
                     + readable_html(result.tables[table])))


def _caveats(out: Path):
    """How a notebook shows warnings: a perfsim warning as one sentence a reader sees (注意 /
    note), without the source file and line; another library's warning (it concerns the code,
    not the reader) as a line of ``library_warnings.txt`` in the output folder."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        import sys

        from ..core.errors import PerfsimWarning

        if issubclass(category, PerfsimWarning):
            text = " ".join(str(message).split())
            for root in (str(Path.cwd()), str(PROJECT_DIR)):
                text = text.replace(root + "/", "")
            print(f"注意 Note: {text}", file=sys.stdout)
        else:
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "library_warnings.txt", "a", encoding="utf-8") as log:
                log.write(f"{category.__name__}: {' '.join(str(message).split())} ({Path(filename).name}:{lineno})\n")

    return show


def readable_outputs(out: Path) -> None:
    """In a running notebook (IPython), show DataFrames with :func:`readable_table` and warnings as
    :func:`_caveats` says; elsewhere nothing changes."""
    import warnings

    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import pandas as pd

    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, readable_table)
    from IPython.display import HTML, display

    display(HTML(LANG_STYLE))            # one language of every bilingual output at a time
    warnings.showwarning = _caveats(out)


def skipped_analyses(out: str | Path) -> list[dict]:
    """The analyses a notebook skipped (``skipped.json`` in its output folder), in order."""
    import json

    path = Path(out) / "skipped.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
