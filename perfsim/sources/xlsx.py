"""Bounded reading of .xlsx workbooks: checked before reading, read by streaming rows.

An .xlsx file is a zip archive of XML. Its size on disk says little about what reading it
costs: a 2 MB file can inflate to gigabytes of cells (a zip bomb), and a genuine 50 MB
workbook holds about 5 million cells. So, before any cell is read,
:func:`check_workbook` looks at the archive:

- the file is at most :data:`MAX_BOOK_BYTES` on disk;
- no member inflates more than :data:`MAX_RATIO` times its compressed size once it is
  larger than :data:`RATIO_FLOOR` (genuine sheets compress 4-20 times; a bomb hundreds of
  times; Apache POI's default guard is the same kind of ratio);
- all members together inflate to at most :data:`MAX_INFLATED` bytes;
- the worksheets hold at most :data:`MAX_CELLS` cells, counted by streaming each sheet's
  XML through the decompressor (nothing is kept; a ``<dimension>`` tag can lie, a count
  cannot).

A refused workbook is one :class:`~perfsim.core.errors.PerfsimError` naming the file and
the limit, within seconds. Reading then uses python-calamine (Rust's calamine, the reader
pandas offers as ``engine="calamine"``): cells arrive row by row as Python values and only
the rows are kept, so memory grows with the data, not with the XML. Merged ranges are read
too (the importer gives every cell of a merged range its top-left value). A reader that
still runs out of memory ends in a PerfsimError, not an abort.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import PerfsimError

#: the largest workbook read (bytes on disk)
MAX_BOOK_BYTES = 200_000_000
#: the most all members of the archive may inflate to (bytes)
MAX_INFLATED = 4_000_000_000
#: the largest inflation ratio of one member larger than RATIO_FLOOR
MAX_RATIO = 100
RATIO_FLOOR = 20_000_000
#: the most cells all worksheets together may hold
MAX_CELLS = 25_000_000


@dataclass(frozen=True)
class SheetCells:
    """One worksheet: its rows (row 1 first; ``None`` for an empty cell) and its merged
    ranges as (min_row, min_col, max_row, max_col), 1-based like a spreadsheet."""

    name: str
    rows: list[tuple]
    merged: list[tuple[int, int, int, int]]


def _count_cells(book: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Cells (``<c`` elements) of one worksheet, streamed; stops past ``budget``."""
    count, tail = 0, b""
    with book.open(info) as raw:
        while True:
            chunk = raw.read(1 << 22)
            if not chunk:
                break
            data = tail + chunk
            # '<c ' or '<c>' open a cell; '<col', '<cols' and '<cfRule' do not
            count += data.count(b"<c ") + data.count(b"<c>")
            tail = data[-2:]
            if count > budget:
                return count
    return count


def check_workbook(path: Path) -> int:
    """Refuse a workbook that would cost too much to read (see the module docstring);
    return the number of cells its worksheets hold."""
    if not path.is_file():
        raise PerfsimError("not a regular file" if path.exists() else "file not found", where=path)
    size = path.stat().st_size
    if size > MAX_BOOK_BYTES:
        raise PerfsimError(f"larger than {MAX_BOOK_BYTES // 1_000_000} MB ({size / 1e6:.0f} MB); "
                           "split it into one workbook per year", where=path)
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PerfsimError(f"not a readable .xlsx workbook (not a zip archive: {exc})", where=path) from None
    with book:
        members = book.infolist()
        total = 0
        for info in members:
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise PerfsimError(
                    f"member {info.filename} inflates from {info.compress_size / 1e6:.1f} MB to "
                    f"{info.file_size / 1e6:.0f} MB ({info.file_size / max(info.compress_size, 1):.0f} times; "
                    f"genuine sheets compress at most about {MAX_RATIO} times): refused as a zip bomb",
                    where=path)
        if total > MAX_INFLATED:
            raise PerfsimError(f"its XML inflates to {total / 1e9:.1f} GB (at most {MAX_INFLATED / 1e9:.0f} GB "
                               "is read); split it into smaller workbooks", where=path)
        cells = 0
        try:
            for info in members:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    cells += _count_cells(book, info, MAX_CELLS - cells)
                    if cells > MAX_CELLS:
                        raise PerfsimError(f"more than {MAX_CELLS:,} cells (at most {MAX_CELLS:,} are read); "
                                           "split it into smaller workbooks", where=path)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PerfsimError(f"not a readable .xlsx workbook (a damaged member: {exc})", where=path) from None
    return cells


def _value(v: Any) -> Any:
    if v == "":
        return None
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def read_sheets(path: Path, select: Callable[[list[str]], list[str]] | None = None,
                keep: Callable[[str, tuple], list[int] | None] | None = None) -> dict[str, SheetCells]:
    """Every worksheet of a checked workbook (or those ``select`` picks from the names),
    row by row. Numbers that are whole come as ``int`` (as Excel shows them), empty cells
    as ``None``, dates as ``datetime``; formulas as their last computed values.

    ``keep(sheet, first_row)``: the 0-based columns to keep of a sheet whose first row is
    its header (None: all); the others are never turned into Python values."""
    check_workbook(path)
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types for a broken file
        raise PerfsimError(f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})", where=path) from None
    out: dict[str, SheetCells] = {}
    try:
        metas = list(book.sheets_metadata)
        wanted = set(select([m.name for m in metas])) if select is not None else None
        for meta in metas:
            if wanted is not None and meta.name not in wanted:
                continue
            if str(getattr(meta.typ, "name", meta.typ)).lower().endswith("chartsheet"):
                continue
            try:
                sheet = book.get_sheet_by_name(meta.name)
                r0, c0 = sheet.start if sheet.height else (0, 0)
                pad = (None,) * c0
                rows: list[tuple] = [()] * r0
                kept: list[int] | None = None
                for raw in sheet.iter_rows():
                    if kept is not None:
                        rows.append(tuple(_value(raw[k - c0]) if 0 <= k - c0 < len(raw) else None for k in kept))
                        continue
                    rows.append(pad + tuple(_value(v) for v in raw))
                    if keep is not None and len(rows) == 1:
                        kept = keep(meta.name, rows[0])
                        if kept is not None:
                            rows[0] = tuple(rows[0][k] if k < len(rows[0]) else None for k in kept)
                while rows and all(v is None for v in rows[-1]):
                    rows.pop()
                merged = [(a[0] + 1, a[1] + 1, b[0] + 1, b[1] + 1) for a, b in (sheet.merged_cell_ranges or [])]
            except MemoryError:
                raise PerfsimError(f"sheet '{meta.name}' does not fit in memory; split the workbook",
                                   where=path) from None
            except PerfsimError:
                raise
            except Exception as exc:
                raise PerfsimError(f"sheet '{meta.name}' is not readable ({exc.__class__.__name__}: {exc})",
                                   where=path) from None
            out[meta.name] = SheetCells(meta.name, rows, merged)
    finally:
        book.close()
    return out


def fit_to_page(ws, title_rows: str | None = "1:1") -> None:
    """Print a worksheet as an office prints a table: landscape A4, every column on the
    page's width, the header row (``title_rows``) repeated on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if title_rows:
        ws.print_title_rows = title_rows
