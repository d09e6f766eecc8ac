"""The house: floors that import only downwards (import-linter's layers contract in
pyproject.toml), no import cycle anywhere, nothing done at import, and a README layout
that lists exactly the modules there are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "perfsim"
FLOORS = ["core", "sources", "uncertainty", "analyses", "report", "runners", "cli"]


def test_layers_contract_is_kept():
    proc = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def _graph():
    grimp = pytest.importorskip("grimp")
    return grimp.build_graph("perfsim", cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan), each sorted."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for m in sorted(edges):
        if m not in index:
            visit(m)
    return out


def _edges(graph) -> dict[str, set[str]]:
    """Module -> the modules it imports; a package's __init__ importing its own modules is left
    out (re-exporting is not a cycle of behaviour), every other edge counts."""
    modules = sorted(m for m in graph.modules if m != "perfsim")
    return {m: {n for n in graph.find_modules_directly_imported_by(m)
                if n in graph.modules and n != "perfsim" and not n.startswith(m + ".")}
            for m in modules}


def test_no_import_cycle_between_modules():
    cycles = _cycles(_edges(_graph()))
    assert not cycles, f"import cycles: {cycles}"


def test_a_cycle_inside_one_package_counts():
    edges = {"p.sources.readers": {"p.sources.world"}, "p.sources.world": {"p.sources.readers"},
             "p.sources": {"p.sources.readers"}, "p.core": set()}
    assert _cycles(edges) == [["p.sources.readers", "p.sources.world"]]
    assert _cycles({"p.a": {"p.a.b"}, "p.a.b": set()}) == []


def test_every_module_lives_on_a_floor():
    top = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py" and p.name != "__init__.py")
    assert top == [], f"modules outside the floors: {top}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")) == sorted(FLOORS)


def test_import_perfsim_has_no_side_effects(tmp_path):
    light = "import perfsim, sys; assert not {'pandas', 'matplotlib', 'papermill'} & set(sys.modules)"
    every = ("import os, importlib, pkgutil, perfsim; os.umask(0o027)\n"
             "for m in pkgutil.walk_packages(perfsim.__path__, 'perfsim.'):\n"
             "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
             "assert os.umask(0o022) == 0o027")
    for code in (light, every):
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_readme_layout_lists_exactly_the_modules():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    listed: dict[str, set[str]] = {}
    for line in block.splitlines():
        m = re.match(r"^\s{2}(\w+)/\s+(.*)$", line)
        if m:
            current = m.group(1)
            listed[current] = set()
            rest = m.group(2)
        elif line.startswith(" " * 6) and listed:
            rest = line
        else:
            continue
        listed[current] |= set(re.findall(r"\b([a-z_]+)\.py\b", rest))
    actual = {floor: {p.stem for p in (PACKAGE / floor).rglob("*.py") if p.name != "__init__.py"}
              for floor in FLOORS}
    assert set(listed) == set(actual), (sorted(listed), sorted(actual))
    for floor in FLOORS:
        assert listed[floor] == actual[floor], (floor, sorted(listed[floor] ^ actual[floor]))


def test_every_command_is_one_module_and_help_names_it():
    from perfsim.cli import COMMANDS, build_parser, commands

    parser = build_parser()
    names = sorted(parser._subparsers._group_actions[0].choices)   # noqa: SLF001 - argparse has no API
    modules = commands()
    assert sorted(m.NAME for m in modules) == names
    on_disk = {p.stem for p in (PACKAGE / "cli").glob("*.py")} - {"__init__", "__main__", "common", "options"}
    assert on_disk == {m.__name__.rsplit(".", 1)[1] for m in modules} and set(COMMANDS) <= on_disk
    for m in modules:
        assert callable(m.configure) and callable(m.run) and m.OUT in ("file", "folder", "synth", None), m.NAME
        assert m.EXAMPLE.startswith(f"perfsim {m.NAME}"), m.NAME
    helptext = parser.format_help()
    assert all(c in helptext for c in names)


def test_no_module_imports_the_root_package():
    """``from .. import x`` (or ``import perfsim``) inside the package would go around the floors:
    the root package re-exports every floor."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE:
            continue
        text = path.read_text(encoding="utf-8")
        depth = len(path.relative_to(PACKAGE).parts) - 1
        root = "." * (depth + 1)
        for line in text.splitlines():
            stripped = line.strip()
            if re.match(rf"^from {re.escape(root)} import ", stripped) or re.match(r"^(import perfsim|from perfsim import )", stripped):
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert not offenders, offenders


def test_the_version_is_one_number():
    import tomllib

    import perfsim
    from perfsim.core import VERSION

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert perfsim.__version__ == VERSION == project["version"]


def test_the_layers_contract_lists_every_floor():
    """The contract lists every floor in order (a floor left out would be free to import any)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = config["contracts"][0]["layers"]
    assert [x.removeprefix("perfsim.") for x in layers] == list(reversed(FLOORS))


def test_the_tests_mirror_the_floors():
    """Each test module sits in the folder of the floor it tests (the project-level ones at
    the top), and the floors' folders share one conftest.py of fixtures."""
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(FLOORS), folders ^ set(FLOORS)
    assert sorted(p.name for p in tests.glob("test_*.py")) == ["test_docs.py", "test_layers.py"]
    assert not list(tests.glob("*/conftest.py"))
