"""``perfsim import``: turn office workbooks (wide, Chinese headers) into a dataset, as a mapping file
says (one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ..core.errors import PerfsimError, PerfsimWarning

NAME = "import"
HELP = "turn office workbooks (wide, Chinese headers) into a dataset, as a mapping file says"
EXAMPLE = "perfsim import office/2024.xlsx --mapping office/mapping.yaml --out my_city/"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", default=None, help="an .xlsx workbook or a folder of them")
    p.add_argument("--mapping", default=None, help="mapping YAML: which sheets, header rows, columns (see README)")
    p.add_argument("--out", default=None, help="folder for the dataset (CSV files of the contract) and import.json")
    p.add_argument("--template", default=None, metavar="DIR",
                   help="instead, write a blank office workbook with Chinese headers and its mapping to DIR")


def run(args: argparse.Namespace) -> int:
    from ..sources import importer

    if args.template is not None:
        if args.source is not None or args.mapping is not None:
            raise PerfsimError("--template writes a blank workbook and its mapping; give it alone")
        book, mapping = importer.write_template(args.template)
        print(f"wrote {book} (one sheet per table: Chinese headers, an example row, drop-down lists; "
              f"a 说明 sheet listing every column) and {mapping}")
        print(f"fill it in, then: perfsim import {book} --mapping {mapping} --out my_data/")
        return 0
    if args.source is None or args.mapping is None or args.out is None:
        raise PerfsimError("perfsim import SOURCE --mapping MAP.yaml --out DIR (or --template DIR)")
    mapping = importer.load_mapping(args.mapping)
    dataset, report = importer.import_workbooks(args.source, mapping, str(args.mapping))
    importer.write_import(dataset, report, args.out, str(args.mapping))
    totals = report.totals()
    print(f"read {len(report.sheets)} sheet(s) of {len(report.sources)} workbook(s): {totals['rows']} unit rows, "
          f"{totals['values']} values; {totals['empty']} empty cell(s) and {totals['marks']} dash/无 cell(s) "
          f"give no row (where a unit is assessed, the scheme's missing rule applies); "
          f"{totals['skipped_rows']} row(s) skipped (skip:)")
    for sheet in report.sheets:
        if sheet.get("example_rows"):
            print(f"  {Path(sheet['workbook']).name}, sheet '{sheet['sheet']}': the template's example row "
                  "was skipped (untouched)")
        if sheet.get("rows_without_values"):
            shown = ", ".join(sheet["rows_without_values"][:5])
            warnings.warn(f"{sheet['workbook']}, sheet '{sheet['sheet']}': {len(sheet['rows_without_values'])} "
                          f"row(s) with a unit but no values were not read as units: {shown} (a unit with no "
                          "data at all must be listed under units.list or in a units sheet)",
                          PerfsimWarning, stacklevel=1)
    for table, frame in dataset.tables.items():
        if len(frame):
            print(f"  {table}: {len(frame)} rows")
    for table, columns in dataset.defaults.items():
        print(f"  {table}: no column(s) {', '.join(columns)}; defaults used")
    print(f"wrote the dataset to {args.out} (with import.json); next: perfsim audit SCHEME --data {args.out}")
    return 0
