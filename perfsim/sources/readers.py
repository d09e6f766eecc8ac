"""Reading and writing datasets: folders of CSV files, workbooks, the bundled world.

:func:`open_dataset` is the one place that decides what a data argument means: ``None``
(or an empty string) is the bundled synthetic world, a folder of CSV files or one .xlsx
workbook is a user's dataset, and the bundled real index folders and files load as they
come. Every table is validated by :mod:`perfsim.core.contract`.

Row numbers in messages are the rows of the file as a spreadsheet shows them (the
header is row 1), blank lines included.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..core.contract import (SHEET_ALIASES, TABLE_COLUMNS, Dataset, header_name, validate_frames,
                             warn_unknown_columns)
from ..core.errors import PerfsimError
from ..core.files import check_dir_target, check_file_target, write_with

#: the largest data file read (bytes); larger files are refused rather than exhausting memory
MAX_FILE_BYTES = 2_000_000_000


#: encodings tried in turn when none is given: UTF-8 (with or without BOM), then the
#: Chinese national standard that contains GBK and GB2312
DETECTED_ENCODINGS = ("utf-8-sig", "gb18030")


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The text encoding of a file: ``encoding`` if given (checked to exist and to decode
    the file), else the first of :data:`DETECTED_ENCODINGS` that decodes it whole."""
    import codecs

    data = path.read_bytes()
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise PerfsimError(f"unknown text encoding {encoding!r} (for example utf-8, gbk, gb18030)",
                               where=path) from None
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise PerfsimError(f"not {encoding} text (byte {exc.start}: {exc.reason})", where=path) from None
        return encoding
    for candidate in DETECTED_ENCODINGS:
        try:
            data.decode(candidate)
            return candidate
        except UnicodeDecodeError:
            continue
    raise PerfsimError("not UTF-8 or GB18030/GBK text: say which encoding it is with --encoding",
                       where=path)


def _read_csv(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """One CSV table as text, indexed by its data row (row 2 of the file is 0), blank
    lines counted but dropped. The encoding is detected unless given."""
    if not path.is_file():
        raise PerfsimError("not a regular file", where=path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise PerfsimError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB", where=path)
    encoding = detect_encoding(path, encoding)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding,
                            skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise PerfsimError("empty file (expected a header row)", where=path) from None
    except pd.errors.ParserError as exc:
        raise PerfsimError(f"not a readable CSV file ({str(exc).strip()})", where=path) from None
    if len(frame.columns) and str(frame.columns[0]).startswith("\ufeff"):
        frame = frame.rename(columns={frame.columns[0]: str(frame.columns[0])[1:]})
    blank = frame.apply(lambda col: col.fillna("").astype(str).str.strip() == "").all(axis=1)
    return frame[~blank]


def read_text_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """A CSV table as text, indexed by its data row (row 2 of the file is 0); errors name the file."""
    return _read_csv(Path(path), encoding)


def read_table(path: str | Path) -> "pd.DataFrame":
    """A CSV table of numbers (a parameter table such as plausible.csv); errors name the file."""
    path = Path(path)
    frame = _read_csv(path)
    try:
        return frame.astype(float).reset_index(drop=True)
    except ValueError as exc:
        raise PerfsimError(f"not a table of numbers ({exc})", where=path) from None


def read_folder(folder: Path, encoding: str | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    frames, sources = {}, {}
    for table in TABLE_COLUMNS:
        path = folder / f"{table}.csv"
        sources[table] = str(path)
        if path.exists():
            frames[table] = _read_csv(path, encoding)
    return frames, sources


def _sheet_for(table: str, names: list[str], book: Path) -> str | None:
    """The sheet holding a table: its English name or one of its Chinese names; two
    sheets for one table are an error."""
    wanted = {table, *SHEET_ALIASES.get(table, ())}
    hits = [n for n in names if n.strip() in wanted]
    if len(hits) > 1:
        raise PerfsimError(f"sheets {', '.join(repr(h) for h in hits)} both hold table '{table}': "
                           "keep one", where=book)
    return hits[0] if hits else None


def _as_text(value: object) -> str:
    """A cell as text, as pandas' ``read_excel(dtype=str)`` writes it: whole numbers without
    '.0', dates as ``2024-12-01 00:00:00``; empty cells as ''."""
    if value is None:
        return ""
    return str(value)


def read_workbook(book: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The contract's tables from a workbook: one sheet per table, named in English
    (``units``) or Chinese (``单位``, see :data:`SHEET_ALIASES`). The workbook is checked
    before it is read and read row by row (:mod:`perfsim.sources.xlsx`: a zip bomb or a
    workbook too large to read is refused in one line). Date cells are read as text such
    as ``2024-12-01 00:00:00`` and normalised by the contract."""
    from .xlsx import read_sheets

    chosen: dict[str, str | None] = {}
    dropped: dict[str, list[str]] = {}

    def select(names: list[str]) -> list[str]:
        for name in TABLE_COLUMNS:
            chosen[name] = _sheet_for(name, names, book)
        return [n for n in chosen.values() if n is not None]

    def keep(sheet: str, header: tuple) -> list[int]:
        """The columns the contract knows (a wide export's other columns are never read)."""
        table = next(t for t, s in chosen.items() if s == sheet)
        known = [k for k, h in enumerate(header) if h is not None and header_name(table, h) in TABLE_COLUMNS[table]]
        dropped[sheet] = [str(h) for h in header if h is not None and str(h).strip()
                          and header_name(table, h) not in TABLE_COLUMNS[table]]
        return known

    sheets = read_sheets(book, select, keep)
    frames, sources = {}, {}
    for name in TABLE_COLUMNS:
        sheet = chosen.get(name)
        sources[name] = f"{book}, sheet '{sheet or name}'"
        if sheet is None:
            continue
        warn_unknown_columns(dropped.get(sheet, []), name, sources[name], stacklevel=2)
        rows = sheets[sheet].rows
        if not rows:
            frames[name] = pd.DataFrame()
            continue
        header = [_as_text(v).strip() for v in rows[0]]
        while header and not header[-1]:
            header.pop()
        width = len(header)
        body = [[_as_text(v) for v in (r + (None,) * (width - len(r)))[:width]] for r in rows[1:]]
        frame = pd.DataFrame(body, columns=[h or f"Unnamed: {k}" for k, h in enumerate(header)], dtype=object)
        del body
        blank = frame.apply(lambda col: col.str.strip() == "").all(axis=1) if width else pd.Series(dtype=bool)
        frames[name] = frame[~blank] if width else frame
    return frames, sources


_LOADED: dict[tuple, Dataset] = {}


def _signature(path: Path) -> tuple:
    files = sorted([*path.glob("*.csv"), *path.glob("SYNTHETIC_README.txt")]) if path.is_dir() else [path]
    return (str(path.resolve()),) + tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def load_dataset(path: str | Path, encoding: str | None = None) -> Dataset:
    """Load a dataset from a folder of CSV files or one .xlsx workbook, and validate it.

    The bundled real index files are recognised as they come (see
    :func:`perfsim.sources.real.published_index`): COINr's ASEM folder, the 2020 EPI
    folder and a UNDP HDR composite-indices CSV (its latest year).

    A dataset whose files are unchanged (same names, sizes and modification times) is
    returned from a per-process cache: its tables are shared, so treat them as read-only
    (raw data is never edited; derive new frames with :meth:`Dataset.replace`).

    ``encoding``: the text encoding of CSV files (detected when None: UTF-8 with or
    without BOM, else GB18030, which covers GBK).
    """
    path = Path(path)
    if path.exists():
        key = _signature(path) + (encoding,)
        if key not in _LOADED:
            if len(_LOADED) >= 8:
                _LOADED.clear()
            _LOADED[key] = _load_dataset(path, encoding)
        return _LOADED[key]
    return _load_dataset(path, encoding)


def _load_dataset(path: Path, encoding: str | None = None) -> Dataset:
    from .real import published_index

    known = published_index(path)        # bundled real data (ASEM, EPI, HDI files) as they come
    if known is not None:
        return known
    if path.is_dir():
        frames, sources = read_folder(path, encoding)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        if not path.exists():
            raise PerfsimError("file not found", where=path)
        if not path.is_file():
            raise PerfsimError("not a regular file", where=path)
        frames, sources = read_workbook(path)
    elif not path.exists():
        raise PerfsimError("no such folder or workbook", where=path)
    else:
        raise PerfsimError("a dataset is a folder of CSV files or one .xlsx workbook", where=path)
    dataset = validate_frames(frames, sources, origin=str(path))
    if _marked_synthetic(path):
        dataset = dataclasses.replace(dataset, synthetic=True)
    return dataset


def _marked_synthetic(path: Path) -> bool:
    """A world written by ``perfsim synth``: SYNTHETIC_README.txt beside its CSV files, or
    a README sheet headed SYNTHETIC in its workbook."""
    if path.is_dir():
        return (path / "SYNTHETIC_README.txt").is_file()
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))       # (checked by read_workbook already)
    try:
        if "README" not in book.sheet_names:
            return False
        first = next(iter(book.get_sheet_by_name("README").iter_rows()), [])
        return bool(first) and first[0] == "SYNTHETIC"
    finally:
        book.close()


# --------------------------------------------------------------------------- writing

#: fixed timestamp inside workbooks, so one seed gives byte-identical files
_EPOCH = (1980, 1, 1, 0, 0, 0)


def workbook_bytes(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """The tables as an .xlsx workbook (one sheet each), byte-identical for equal tables."""
    raw = io.BytesIO()
    with pd.ExcelWriter(raw, engine="openpyxl") as writer:
        for name, frame in tables.items():
            frame.to_excel(writer, sheet_name=name, index=False)
        props = writer.book.properties
        props.creator = props.lastModifiedBy = "perfsim"        # (its dates are fixed below)
    return stable_workbook(raw.getvalue())


def stable_workbook(raw: bytes) -> bytes:
    """An .xlsx file as openpyxl saved it, with its times fixed (openpyxl stamps every zip
    entry and the 'created' and 'modified' properties with the time of saving), so equal
    content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":      # the document's own dates
                content = re.sub(rb"(<dcterms:(?:modified|created)[^>]*>)[^<]*(</dcterms:(?:modified|created)>)",
                                 rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            dst.writestr(fixed, content)
    return out.getvalue()


def write_dataset(dataset: Dataset | Mapping[str, pd.DataFrame], out: str | Path,
                  fmt: str = "csv", extra: Mapping[str, str] | None = None, record: bool = True) -> Path:
    """Write the tables as a folder of CSV files (``fmt='csv'``) or one workbook (``'xlsx'``,
    ``out`` gets the suffix .xlsx if it has none). Returns the folder or workbook path.

    A folder is published all or nothing (:class:`~perfsim.core.files.OutputSet`: a full
    disk or a signal leaves the previous files or the new ones, never part of them);
    ``extra`` adds text files to it (name -> text, e.g. the SYNTHETIC README); ``record``:
    whether it is a result of the command (False for a cache such as the bundled world)."""
    from ..core.files import OutputSet

    tables = dataset.tables if isinstance(dataset, Dataset) else dataset
    out = Path(out)
    if fmt == "xlsx":
        if out.suffix.lower() != ".xlsx":
            out = out.with_name(out.name + ".xlsx")
        data = workbook_bytes(tables)
        return write_with(check_file_target(out), lambda tmp: Path(tmp).write_bytes(data))
    check_dir_target(out)
    with OutputSet(out, record=record) as outputs:
        for name, frame in tables.items():
            outputs.csv(frame, f"{name}.csv")
        for name, text in (extra or {}).items():
            outputs.text(text, name)
    return out
