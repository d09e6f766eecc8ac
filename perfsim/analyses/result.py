"""One shape for every analysis: the :class:`Result` and the protocol that makes it.

An analysis of the protocol is a pure function::

    analysis(scheme, dataset, *, year=None, seed=DEFAULT_SEED, **options) -> Result

where ``scheme`` is a resolved scenario (:func:`perfsim.load_scenario`; a bare
:class:`~perfsim.core.scheme.Scheme` is wrapped) or ``None`` for the analyses that need
none (rater behaviour). A :class:`Result` holds

- ``tables``: named DataFrames, published as ``NAME.csv`` at full precision;
- ``figures``: named :class:`Chart` specs (which drawer, which tables, which labels), drawn
  by the report floor (:data:`perfsim.report.publish.DRAWERS`) into ``NAME.png``;
- ``facts``: the numbers its sentences use (JSON-safe; in ``run.json``);
- ``texts``: the sentences a reader sees, per language (``text("zh")``, ``text("en")``),
  filled from the facts, never typed;
- ``files``: other text it produces (a scenario YAML written from derived weights);
- ``scenarios``: the resolved scenarios it read, by role (for provenance).

One writer, :func:`perfsim.report.publish.publish`, turns any Result into CSV, PNG, an HTML
page (Chinese first, English on the page's switch) and ``run.json``; the CLI, the notebooks
and the batch call the same functions (:data:`perfsim.analyses.protocol.ANALYSES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import pandas as pd

LANGS = ("zh", "en")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Chart:
    """A figure as data: ``draw`` names a drawer of the report floor, ``tables`` the Result's
    tables it draws (in the drawer's order), ``args`` its other arguments (labels, names),
    ``title`` the caption per language."""

    draw: str
    tables: tuple[str, ...]
    title: Mapping[str, str]
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(self.tables))
        object.__setattr__(self, "title", _frozen(self.title))
        object.__setattr__(self, "args", _frozen(self.args))
        missing = [lang for lang in LANGS if not self.title.get(lang)]
        if missing:
            raise ValueError(f"chart '{self.draw}' has no {missing[0]} title")


@dataclass(frozen=True)
class Result:
    """What one analysis found (see the module's text)."""

    analysis: str
    title: Mapping[str, str]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    figures: Mapping[str, Chart] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    scenarios: Mapping[str, Any] = field(default_factory=dict)
    #: the tables the page shows, in order, with their headings per language (the rest are CSV only)
    shown: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("title", "tables", "figures", "facts", "texts", "files", "scenarios"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "shown", tuple(tuple(s) for s in self.shown))
        for lang in LANGS:
            if not self.title.get(lang) or not self.texts.get(lang):
                raise ValueError(f"result '{self.analysis}' has no {lang} title or text")
        for name, chart in self.figures.items():
            absent = [t for t in chart.tables if t not in self.tables]
            if absent:
                raise ValueError(f"figure '{name}' of '{self.analysis}' draws table '{absent[0]}', which it lacks")
        absent = [s[0] for s in self.shown if s[0] not in self.tables]
        if absent:
            raise ValueError(f"result '{self.analysis}' shows table '{absent[0]}', which it lacks")

    def text(self, lang: str = "zh") -> str:
        """The result's sentences in ``lang`` (``zh`` or ``en``)."""
        if lang not in LANGS:
            raise ValueError(f"language {lang!r}: one of {', '.join(LANGS)}")
        return self.texts[lang]


def both(zh: str, en: str) -> dict[str, str]:
    """A text in both languages (Chinese first)."""
    return {"zh": zh, "en": en}
