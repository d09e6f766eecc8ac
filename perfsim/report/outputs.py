"""Saving a notebook's or command's results: tables as CSV and Parquet, figures as PNG.

Each file is written atomically (:mod:`perfsim.core.files`). CSV files carry a UTF-8
byte-order mark so that Excel opens them correctly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.files import save_parquet, write_csv, write_with


def save_table(frame: pd.DataFrame, name: str, out_dir: str | Path) -> Path:
    """Save ``frame`` as ``out_dir/tables/NAME.csv`` and ``NAME.parquet``; return the CSV path."""
    folder = Path(out_dir) / "tables"
    csv = write_csv(frame, folder / f"{name}.csv")
    save_parquet(frame, folder / f"{name}.parquet", index=False)
    return csv


def save_figure(fig, name: str, out_dir: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as ``out_dir/figures/NAME.png``. In a notebook the saved
    PNG is also shown and the figure closed, so it is drawn once, not again by the inline
    backend (a later ``plt.show()`` shows nothing more)."""
    path = Path(out_dir) / "figures" / f"{name}.png"
    written = write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight",
                                                       metadata={"Software": None}))
    try:
        from IPython import get_ipython
    except ImportError:                       # pragma: no cover - IPython ships with the kernel
        return written
    shell = get_ipython()
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        display(Image(data=written.read_bytes(), format="png"))
        plt.close(fig)
    return written


def save_findings(found: dict, out_dir: str | Path) -> Path:
    """Save findings (:func:`perfsim.analyses.findings.findings`) as ``tables/findings.json``
    and as Markdown, ``tables/findings.md`` (Chinese) and ``tables/findings.en.md``."""
    from ..core.files import atomic_write_text, write_json
    from .text import findings_markdown

    folder = Path(out_dir) / "tables"
    atomic_write_text(folder / "findings.md", findings_markdown(found, "zh"))
    atomic_write_text(folder / "findings.en.md", findings_markdown(found, "en"))
    return write_json(folder / "findings.json", found)
