"""One bad-input file per error message: each must end in one line naming the file and the
key or row, exit code 2, and no traceback (run through the real CLI entry point)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perfsim.cli import main

from ..conftest import MINI, MINI_SCHEME, ROOT, TESTS

BAD_DATA = sorted(p for p in (TESTS / "bad" / "data").iterdir() if p.is_dir())
BAD_SCHEMES = sorted((TESTS / "bad" / "schemes").glob("*.yaml"))


def _expect(path: Path, tag: str = "expect") -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {tag}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path} has no '# {tag}:' line")


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("case", BAD_DATA, ids=[p.name for p in BAD_DATA])
def test_bad_data(case: Path, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    for f in case.glob("*.csv"):
        shutil.copy(f, data / f.name)
    if (case / "DELETE").exists():
        for table in (case / "DELETE").read_text().split():
            (data / f"{table}.csv").unlink()
    scheme = (case / "SCHEME").read_text().strip() if (case / "SCHEME").exists() else str(MINI_SCHEME)
    argv = ["validate", str(ROOT / scheme)]
    if (case / "COMMAND").exists():          # a command other than validate (its options, then --data)
        argv = (case / "COMMAND").read_text().split() + ["--out", str(tmp_path / "out")]
    code, err = _run([*argv, "--data", str(data)], capsys)
    expect = (case / "EXPECT").read_text(encoding="utf-8").strip()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("perfsim: error: "), err
    assert expect in err, f"expected {expect!r} in {err!r}"
    assert "Traceback" not in err


@pytest.mark.parametrize("path", BAD_SCHEMES, ids=[p.stem for p in BAD_SCHEMES])
def test_bad_scheme(path: Path, capsys):
    with_data = "# expect-with-data:" in path.read_text(encoding="utf-8")
    argv = ["validate", str(path)] + (["--data", str(MINI)] if with_data else [])
    code, err = _run(argv, capsys)
    expect = _expect(path, "expect-with-data" if with_data else "expect")
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("perfsim: error: "), err
    assert path.name in err and expect in err, f"expected {expect!r} in {err!r}"


def test_unsafe_yaml_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"name: x\ntree: !!python/object/apply:os.system ['touch {marker}']\n")
    code, err = _run(["validate", str(bad)], capsys)
    assert code == 2 and "refused YAML tag" in err
    assert not marker.exists()


def test_broken_workbook(tmp_path, capsys):
    book = tmp_path / "data.xlsx"
    book.write_text("not a workbook")
    code, err = _run(["validate", str(MINI_SCHEME), "--data", str(book)], capsys)
    assert code == 2 and "data.xlsx: not a readable .xlsx workbook" in err


def test_workbook_missing_sheet_and_bad_cell(tmp_path, mini, capsys):
    import pandas as pd

    book = tmp_path / "data.xlsx"
    with pd.ExcelWriter(book) as writer:
        for name in ("units", "indicators", "actuals"):
            pd.read_csv(MINI / f"{name}.csv", dtype=str).to_excel(writer, sheet_name=name, index=False)
    code, err = _run(["validate", str(MINI_SCHEME), "--data", str(book)], capsys)
    assert code == 2 and "data.xlsx: missing table 'targets'" in err
    targets = pd.read_csv(MINI / "targets.csv", dtype=str)
    targets.loc[2, "target"] = "n/a"
    with pd.ExcelWriter(book, mode="a") as writer:
        targets.to_excel(writer, sheet_name="targets", index=False)
    code, err = _run(["validate", str(MINI_SCHEME), "--data", str(book)], capsys)
    assert code == 2
    assert "data.xlsx, sheet 'targets', row 4, column 'target': 'n/a' is not a number" in err


def test_missing_dataset_folder(capsys):
    code, err = _run(["score", str(MINI_SCHEME), "--data", "/no/such/folder"], capsys)
    assert code == 2 and "/no/such/folder: no such folder or workbook" in err


def test_cli_subprocess_has_no_traceback():
    """The installed console script, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "perfsim.cli", "validate",
                           str(TESTS / "bad" / "schemes" / "unknown_key.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"perfsim: error: {TESTS / 'bad' / 'schemes' / 'unknown_key.yaml'}: key 'tree.a.wieght': unknown key"]
