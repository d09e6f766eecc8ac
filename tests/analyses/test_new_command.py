"""A new analysis is its module, its command file and its tests: nothing else is edited.
Both are dropped into a copy of the package; the registry and the CLI find them."""

from __future__ import annotations

import shutil
import subprocess
import sys

from ..conftest import ROOT

ANALYSIS = '''
from ..core.paths import DEFAULT_SEED
from ..core.engine import score
from .result import Result, both


def analysis(scheme, dataset, *, year=None, seed=DEFAULT_SEED):
    table = score(scheme, dataset, year)
    top = table.loc[table["total"].idxmax()]
    return Result("best", both("最高分", "Best total"), tables={"best": table.nlargest(3, "total")},
                  facts={"unit": top["unit_id"]}, texts=both(f"最高分：{top['unit_id']}", f"Best: {top['unit_id']}"),
                  scenarios={"scheme": scheme}, shown=(("best", "前三", "Top three"),))
'''
COMMAND = '''
import argparse

from .common import lang_option, load_file, open_data, publish_result

NAME = "best"
HELP = "the three best totals"
EXAMPLE = "perfsim best params/baseline.yaml"
OUT = "folder"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme")
    p.add_argument("--data", default=None)
    p.add_argument("--year", type=int, default=None)
    p.add_argument("--out", default="outputs/best")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    from ..analyses.best import analysis

    publish_result(analysis(load_file(args.scheme), open_data(args), year=args.year), args, NAME)
    return 0
'''


def test_a_new_analysis_is_one_module_and_one_command_file(tmp_path):
    package = tmp_path / "perfsim"
    shutil.copytree(ROOT / "perfsim", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "analyses" / "best.py").write_text(ANALYSIS, encoding="utf-8")
    (package / "cli" / "best.py").write_text(COMMAND, encoding="utf-8")
    for folder in ("params", "data"):              # the project's files, beside the copied package
        (tmp_path / folder).symlink_to(ROOT / folder)
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import perfsim; assert perfsim.__file__.startswith(%r), perfsim.__file__\n"
            "assert 'best' in perfsim.analyses(), perfsim.analyses()\n"
            "from perfsim.cli import main\n"
            "sys.exit(main(['best', 'params/baseline.yaml', '--out', %r]))\n") % (
        str(tmp_path), str(tmp_path), str(tmp_path / "out"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "最高分" in proc.stdout
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"best.csv", "best.html", "run.json"} <= names
