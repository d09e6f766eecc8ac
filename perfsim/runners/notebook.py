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

from ..core.contract import Dataset
from ..core.paths import PROJECT_DIR, resolve_path
from ..core.scheme import Resolved, load_scenario
from ..sources.readers import data_path, is_bundled, load_dataset


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
    synthetic: bool              # True for the bundled synthetic world
    year: int | None             # None: the latest year in the data
    seed: int
    out: Path                    # where tables/ and figures/ go

    @property
    def compares(self) -> bool:
        """True when the scenario has a base of its own to compare with."""
        return self.base is not self.scenario


def setup_notebook(name: str, scenario: str, data: str = "", year: int = 0, seed: int = 0,
                   out_dir: str = "", fonts: bool = True, quiet: bool = False) -> Notebook:
    """Resolve a notebook's raw parameters (see the module docstring).

    ``out_dir`` empty means :func:`default_out`.
    """
    resolved = load_scenario(resolve_path(scenario))
    base = load_scenario(resolved.base_path) if resolved.base_path else resolved
    path = data_path(resolve_path(data) if data else None)
    dataset = load_dataset(path)
    out = resolve_path(out_dir) if out_dir else default_out(name)
    if fonts:
        from ..report.plotting import setup_fonts

        setup_fonts()
    nb = Notebook(scenario=resolved, base=base, dataset=dataset, data_path=path,
                  synthetic=is_bundled(data), year=year or None, seed=int(seed), out=Path(out))
    if not quiet:
        origin = "the bundled SYNTHETIC world" if nb.synthetic else str(data)
        against = f" against '{base.name}'" if nb.compares else ""
        print(f"scenario '{resolved.name}'{against} on {origin} ({len(dataset.units)} units); "
              f"outputs in {out}")
    return nb
