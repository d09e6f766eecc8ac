"""Big office workbooks stay bounded: time and peak memory of reading a 50 MB workbook.

Target (issue 27): a genuine 50 MB workbook (about 89,000 rows x 61 columns) imports
within 2 GB of memory and 60 s on this machine; a zip bomb is refused within seconds.

Builds the bundled world as a contract workbook whose 完成值 sheet holds three runs of its
years (92,431 rows) and 57 more columns an office keeps (61 in all, about 47 MB), then
runs, each in a fresh process with its peak resident memory read from the kernel:

- (a) ``perfsim validate params/baseline.yaml --data big.xlsx`` (the contract reader);
- (b) ``perfsim import big.xlsx --mapping m.yaml --out DIR`` (the importer, every cell);
- (c) the baseline: openpyxl's read-only mode streaming every cell of the same workbook
  into Python rows (the least a pure-Python reader does, without checks or tables);
- (d) ``perfsim validate`` of a 2.4 MB zip bomb that inflates to 1 GiB.

Prints wall time and peak memory of each and the ratios (a)/(c) and (b)/(c).

    python benchmarks/bench_workbook.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bigbook import big_world_book, zip_bomb  # noqa: E402

TARGET_S, TARGET_GB = 60.0, 2.0

PEAK = ("import resource, runpy, sys\n"
        "sys.argv = {argv!r}\n"
        "code = 0\n"
        "try:\n"
        "    {body}\n"
        "except SystemExit as exc:\n"
        "    code = exc.code or 0\n"
        "except Exception as exc:\n"
        "    print('failed:', repr(exc), file=sys.stderr)\n"
        "    code = 1\n"
        "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n")


def measured(body: str, argv: list[str]) -> tuple[float, float, int, str]:
    """(seconds, peak GB, exit code, last stderr line) of one child process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK.format(argv=argv, body=body)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    peak = next(int(line.split()[1]) for line in reversed(lines) if line.startswith("PEAK_KIB"))
    said = [line for line in lines if not line.startswith("PEAK_KIB") and "warning" not in line]
    return wall, peak / 2 ** 20, proc.returncode, (said[-1] if said else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the workbooks here (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="perfsim-bench-workbook-"))
    folder.mkdir(parents=True, exist_ok=True)
    import perfsim

    perfsim.bundled_dataset()                      # make sure the world is on disk
    world = ROOT / "data" / "synthetic"
    t0 = time.perf_counter()
    book, rows, columns = big_world_book(folder / "big.xlsx", world, extra=57, copies=3)
    print(f"workbook: {book.stat().st_size / 1e6:.1f} MB, 完成值 {rows:,} rows x {columns} columns "
          f"({rows * columns:,} cells), written in {time.perf_counter() - t0:.0f} s")
    bomb = zip_bomb(folder / "bomb.xlsx", gib=1.0)
    mapping = folder / "m.yaml"
    mapping.write_text("sheets:\n  - {sheet: 单位, table: units}\n  - {sheet: 指标, table: indicators}\n"
                       "  - {sheet: 目标, table: targets}\n  - {sheet: 完成值, table: actuals}\n", encoding="utf-8")
    cli = "from perfsim.cli import main; code = main(sys.argv[1:])"
    runs = {
        "(a) perfsim validate --data": measured(cli, ["perfsim", "validate", str(ROOT / "params" / "baseline.yaml"),
                                                      "--data", str(book)]),
        "(b) perfsim import": measured(cli, ["perfsim", "import", str(book), "--mapping", str(mapping),
                                             "--out", str(folder / "imported")]),
        "(c) openpyxl read-only rows": measured(
            "from openpyxl import load_workbook; wb = load_workbook(sys.argv[1], read_only=True, data_only=True); "
            "rows = {ws.title: [r for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}",
            ["openpyxl", str(book)]),
        "(d) zip bomb": measured(cli, ["perfsim", "validate", str(ROOT / "params" / "baseline.yaml"),
                                       "--data", str(bomb)]),
    }
    for name, (wall, peak, code, said) in runs.items():
        print(f"{name:30s} {wall:7.1f} s  peak {peak:5.2f} GB  exit {code}  {said[:110]}")
    base_wall, base_peak = runs["(c) openpyxl read-only rows"][:2]
    for name in ("(a) perfsim validate --data", "(b) perfsim import"):
        wall, peak = runs[name][:2]
        ok = wall <= TARGET_S and peak <= TARGET_GB
        print(f"{name}: time {wall / base_wall:.2f}x, memory {peak / base_peak:.2f}x the openpyxl baseline; "
              f"target {TARGET_S:.0f} s and {TARGET_GB:.0f} GB: {'met' if ok else 'NOT met'}")
    wall, _, code, _ = runs["(d) zip bomb"]
    print(f"zip bomb: exit {code} after {wall:.1f} s ({'refused' if code == 2 else 'NOT refused'})")


if __name__ == "__main__":
    main()
