"""Large and hostile .xlsx files for the workbook tests and benchmarks/bench_workbook.py,
written as raw SpreadsheetML (openpyxl would take minutes for millions of cells):

- :func:`write_book`: sheets of rows (text as inline strings, numbers as numbers), the
  smallest valid workbook Excel, openpyxl and calamine read;
- :func:`big_world_book`: the synthetic world as a contract workbook whose 完成值 sheet has
  ``extra`` more columns of numbers (an office's export with every column it keeps);
- :func:`zip_bomb`: a workbook whose one sheet inflates to ``gib`` GiB of cells.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable, Sequence
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{sheets}</Types>')
_SHEET_CT = ('<Override PartName="/xl/worksheets/sheet{k}.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets>'
       '</workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
            '</Relationships>')
_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_TAIL = '</sheetData></worksheet>'


def _col(k: int) -> str:
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(65 + r) + name
    return name


def _cell(ref: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def write_book(path: Path, sheets: dict[str, Iterable[Sequence[object]]], level: int = 6) -> Path:
    """A workbook of the given sheets (rows of values), streamed to disk."""
    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as book:
        book.writestr("[Content_Types].xml", _CT.format(sheets="".join(_SHEET_CT.format(k=k + 1)
                                                                        for k in range(len(names)))))
        book.writestr("_rels/.rels", _RELS)
        book.writestr("xl/workbook.xml", _WB.format(sheets="".join(
            f'<sheet name="{escape(n)}" sheetId="{k + 1}" r:id="rId{k + 1}"/>' for k, n in enumerate(names))))
        book.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(rels="".join(
            f'<Relationship Id="rId{k + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{k + 1}.xml"/>' for k in range(len(names)))))
        for k, name in enumerate(names):
            with book.open(f"xl/worksheets/sheet{k + 1}.xml", "w", force_zip64=True) as out:
                out.write(_HEAD.encode())
                for r, row in enumerate(sheets[name], start=1):
                    cells = "".join(_cell(f"{_col(c)}{r}", v) for c, v in enumerate(row))
                    out.write(f'<row r="{r}">{cells}</row>'.encode())
                out.write(_TAIL.encode())
    return path


def _rows(frame: pd.DataFrame) -> Iterable[list]:
    yield list(frame.columns)
    for row in frame.itertuples(index=False):
        yield [None if (isinstance(v, float) and np.isnan(v)) else v for v in row]


def big_world_book(path: Path, world: str | Path, extra: int = 57, copies: int = 1, seed: int = 0
                   ) -> tuple[Path, int, int]:
    """The world's tables as a contract workbook (Chinese sheet names), its actuals sheet
    widened by ``extra`` columns of random numbers and holding ``copies`` runs of its years
    (each earlier run shifted back by the world's span of years: a longer history);
    returns (path, rows, columns) of that sheet."""
    world = Path(world)
    rng = np.random.default_rng(seed)
    names = {"units": "单位", "indicators": "指标", "targets": "目标", "leader_ratings": "领导评价",
             "satisfaction": "满意度", "adjustments": "加减分", "special": "专项", "peers": "对标", "goals": "城市目标",
             "responsibilities": "责任分工"}
    tables = {t: pd.read_csv(world / f"{t}.csv", dtype=str, keep_default_na=False)
              for t in names if (world / f"{t}.csv").exists()}
    actuals = pd.read_csv(world / "actuals.csv", dtype={"period": str, "unit_id": str, "indicator_id": str})
    years = actuals["period"].str[:4].astype(int)
    span = int(years.max() - years.min() + 1)
    runs = [actuals.assign(period=(years - span * k).astype(str) + actuals["period"].str[4:]) for k in range(copies)]
    actuals = pd.concat(runs[::-1], ignore_index=True)

    def wide() -> Iterable[list]:
        yield list(actuals.columns) + [f"附加列{k + 1}" for k in range(extra)]
        block = 10_000
        for start in range(0, len(actuals), block):
            part = actuals.iloc[start:start + block]
            noise = np.round(rng.uniform(0, 100_000, size=(len(part), extra)), 3)
            for row, more in zip(part.itertuples(index=False), noise):
                yield [*row, *more.tolist()]

    write_book(path, {**{names[t]: _rows(frame) for t, frame in tables.items()}, "完成值": wide()})
    return path, len(actuals) + 1, len(actuals.columns) + extra


def zip_bomb(path: Path, gib: float = 1.0) -> Path:
    """A workbook whose one sheet is ``gib`` GiB of identical number cells (compresses
    about a thousand times)."""
    row = '<row r="{r}">' + '<c><v>1</v></c>' * 1000 + '</row>'
    per_row = len(row.format(r=1_000_000))
    rows = int(gib * 2 ** 30 / per_row)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _CT.format(sheets=_SHEET_CT.format(k=1)))
        book.writestr("_rels/.rels", _RELS)
        book.writestr("xl/workbook.xml", _WB.format(sheets='<sheet name="数据" sheetId="1" r:id="rId1"/>'))
        book.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(rels=(
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/>')))
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(_HEAD.encode())
            chunk = "".join(row.format(r=r) for r in range(1, 101)).encode()
            for _ in range(rows // 100):
                out.write(chunk)
            out.write(_TAIL.encode())
    return path
