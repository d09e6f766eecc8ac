"""The documentation site: it builds in strict mode (a warning fails), its links resolve on
disk, and its references name every CLI command and every public name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

import perfsim
from perfsim.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr          # strict: any warning fails the build
    return out


def test_cli_reference_names_every_command_and_option(site):
    text = (site / "generated" / "cli.html").read_text(encoding="utf-8")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices      # noqa: SLF001 - argparse has no API
    for name, sub in commands.items():
        assert f'id="perfsim-{name}"' in text, name
        for action in sub._actions:                                # noqa: SLF001
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in text, (name, flag)


def test_api_reference_names_every_public_name(site):
    text = (site / "generated" / "api.html").read_text(encoding="utf-8")
    missing = [f"{m}.{n}" for n, m in perfsim._EXPORTS.items() if f'id="perfsim.{m}.{n}"' not in text]  # noqa: SLF001
    assert not missing


def test_every_local_link_of_the_site_resolves_on_disk(site):
    broken = []
    pages = [p for p in site.rglob("*.html") if p.name != "404.html"]    # a server's page, not opened from disk
    assert len(pages) > 20
    for page in pages:
        for href in re.findall(r'(?:href|src)="([^"]+)"', page.read_text(encoding="utf-8")):
            url = urlparse(href)
            if url.scheme or href.startswith(("#", "mailto:", "data:")):
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if url.path and not target.exists():
                broken.append(f"{page.relative_to(site)} -> {href}")
    assert not broken, broken[:10]


def test_quick_start_in_chinese_and_english_and_the_tutorials(site):
    zh = (site / "quickstart-zh.html").read_text(encoding="utf-8")
    en = (site / "quickstart-en.html").read_text(encoding="utf-8")
    assert "快速入门" in zh and "Quick start" in en
    for step in ("make run", "perfsim import", "perfsim compare", "perfsim calibrate --data", "perfsim memo"):
        assert step in zh and step in en, step
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if not p.name.startswith("00_")}
    assert notebooks == {p.stem for p in (site / "generated" / "tutorials").glob("*.html")}


def test_the_mutation_score_tool_counts_mutmut_results_per_module(tmp_path):
    """tools/mutation_score.py on a made-up mutmut folder: two modules, each exit code of
    mutmut 3 counted under its status, the score killed / tested, a module with mutants not
    checked yet marked partial."""
    import json

    for path, codes in {"perfsim/core/files.py.meta": [1, 1, 1, 0, 33, 36],
                        "perfsim/analyses/weights.py.meta": [1, 3, 0, None]}.items():
        meta = tmp_path / path
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": {f"m{i}": c for i, c in enumerate(codes)}}))
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation_score.py"), "--root", str(tmp_path),
                          "--markdown"], capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert lines[0] == "| module | mutants | killed | survived | no tests | timeout | not checked | score |"
    assert "| perfsim.core.files | 6 | 3 | 1 | 1 | 1 | 0 | 50.0 % |" in lines
    assert "| perfsim.analyses.weights | 4 | 2 | 1 | 0 | 0 | 1 | 66.7 % (partial) |" in lines
    assert lines[-1] == "| all | 10 | 5 | 2 | 1 | 1 | 1 | 55.6 % (partial) |"
    missing = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation_score.py"), "--root",
                              str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2 and "run `make mutation` first" in missing.stderr
