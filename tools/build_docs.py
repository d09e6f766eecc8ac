"""Build the documentation site (``make docs``): generate the CLI reference from the parsers
and the tutorials from the notebooks into ``docs/generated/``, then ``mkdocs build --strict``
into ``site/`` (pages open from disk: ``use_directory_urls: false``).

    python tools/build_docs.py [--out site] [--no-build]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "docs" / "generated"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def cli_reference() -> str:
    """Every command with its description, usage, options (default, meaning) and example."""
    from perfsim.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices          # noqa: SLF001 - argparse has no API
    lines = ["# 命令行参考 Command-line reference", "",
             "由 `tools/build_docs.py` 从 perfsim 的参数解析器生成：每个命令、每个选项及其默认值和示例。",
             "Generated from perfsim's parsers by `tools/build_docs.py`: every command and option, with its "
             "default and an example.", ""]
    lines += [f"- [`perfsim {name}`](#perfsim-{name})" for name in commands] + [""]
    for name, sub in commands.items():
        lines += [f"## perfsim {name}", "", _md(sub.description or ""), "", "```", sub.format_usage().strip(), "```",
                  "", "| option | default | meaning |", "|---|---|---|"]
        for action in sub._actions:                                     # noqa: SLF001
            if isinstance(action, argparse._HelpAction):                 # noqa: SLF001
                continue
            flag = ", ".join(action.option_strings) or action.dest
            default = "" if action.default in (None, argparse.SUPPRESS) else f"`{action.default}`"
            lines.append(f"| `{flag}` | {default} | {_md(action.help or '')} |")
        example = (sub.epilog or "").split("example:", 1)[-1].strip()
        lines += ["", "Example:", "", "```", example, "```", ""]
    return "\n".join(lines) + "\n"


def tutorials() -> dict[str, str]:
    """Each notebook as a page: its text cells and code (stored without outputs)."""
    pages = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if path.name.startswith("00_"):
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        parts = [f"<!-- generated from notebooks/{path.name} -->", ""]
        for cell in nb["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                parts += [text, ""]
            elif text.strip():
                parts += ["```python", text, "```", ""]
        pages[path.stem] = "\n".join(parts) + "\n"
    return pages


#: site pages made of README sections: slug -> (title, Chinese introduction, README headings)
SECTIONS = {
    "howto/office-data": ("办公数据：导入、审核、多年 Office data", "把科室的工作簿导入为数据集、审核数据质量、计算数据自身的矩。",
                          ["Office data: import, audit, several years", "A city's own moments (`perfsim moments`)"]),
    "howto/reforms": ("方案调整与批处理 Reforms and batches", "比较一个方案调整（如市领导评价由 10 分减为 5 分）与基准方案，批量运行所有方案与笔记本。",
                      ["The leader-rating reform study", "Batches", "Levers: specialisation, survey, categories, penalties"]),
    "howto/weightings": ("权重：推导、比较、精简 Weightings", "由数据推导权重（熵权、CRITIC、AHP 等）、比较评价方法、精简指标（少而精）。",
                         ["Weightings: derive, compare, reduce (`perfsim weights | influence | reduce | methods`)"]),
    "howto/raters": ("评价人：宽严、平衡分、人情分 Raters", "从评分表本身估计评价人的宽严尺度、平衡分和可能的人情分。",
                     ["Raters: leniency, 平衡分 and 人情分 in the ratings (`perfsim raters`)"]),
    "howto/robustness": ("稳健性 Robustness", "权重与数据的不确定性下，名次和等次有多稳定。",
                         ["Robustness (`perfsim uncertainty`)"]),
    "howto/verdicts": ("效度结论及其依据 Verdicts and what would settle them",
                       "在数据所允许的合成世界上判断方案调整是否使排名更接近真实绩效，给出概率、决定结论的假设和尚需的数据。",
                       ["Verdicts over the worlds the data allow (`perfsim reference`, `perfsim calibrate --data`)",
                        "Calibration and ensembles"]),
    "howto/results-use": ("效率与结果运用 Efficiency and use of results", "成本与效率、问责与奖励、绩效诊断、电子绩效跟踪。",
                          ["Efficiency and cost (`perfsim efficiency`)",
                           "Use of results and diagnosis (`perfsim consequences`, `perfsim diagnose`)",
                           "E-performance: tracking, peers, cost, target regimes, awards"]),
    "howto/memo": ("政策储备报告 The policy-reserve memo", "把比较结果写成 Word 格式的政策储备报告。",
                   ["The policy-reserve memo in Word (`perfsim memo`)"]),
    "howto/explorer": ("在浏览器中探索方案 The live explorer", "在浏览器中调整分值、权重和市领导评价的调节手段，即时看到谁升谁降、结论有多确定，并保存为方案。",
                       ["The live scenario explorer (`perfsim explore`)"]),
    "concepts/schemes": ("方案与方案差异 Schemes and scenario diffs", "考评方案和方案调整都是经过完整校验的 YAML 数据。",
                         ["Schemes and scenarios"]),
    "concepts/contract": ("数据约定 The data contract", "perfsim 读取的每张表、每一列及其含义。", ["Data contract"]),
    "concepts/synthetic": ("合成世界及其假设 The synthetic world", "合成世界如何生成，每个可能影响结论的设定都是带依据和先验的旋钮。",
                           ["The synthetic world", "Real data"]),
    "development": ("开发 Development", "测试、基准与代码结构。", ["Testing", "Layout"]),
}


def readme_sections() -> dict[str, str]:
    """The guide's sections by title: each file of docs/guide (its first line ``# title``) and
    each ``## `` section of README.md."""
    out = {}
    for path in sorted((ROOT / "docs" / "guide").glob("*.md")):
        head, _, body = path.read_text(encoding="utf-8").partition("\n")
        out[head.removeprefix("# ").strip()] = body
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    title, body = None, []
    for line in text.splitlines():
        if line.startswith("## "):
            if title:
                out[title] = "\n".join(body)
            title, body = line[3:].strip(), []
        elif title:
            body.append(line)
    if title:
        out[title] = "\n".join(body)
    return out


def section_pages() -> dict[str, str]:
    sections = readme_sections()
    pages = {}
    for slug, (title, intro, headings) in SECTIONS.items():
        missing = [h for h in headings if h not in sections]
        if missing:
            raise SystemExit(f"no guide page or README section {missing[0]!r} (tools/build_docs.py SECTIONS)")
        parts = [f"# {title}", "", intro, ""]
        for h in headings:
            parts += [f"## {h}", "", sections[h].strip(), ""]
        pages[slug] = "\n".join(parts) + "\n"
    return pages


def api_reference() -> str:
    """Every public name of ``perfsim`` (``perfsim._EXPORTS``), grouped by the module that holds it."""
    import perfsim

    modules: dict[str, list[str]] = {}
    for name, module in perfsim._EXPORTS.items():                      # noqa: SLF001
        modules.setdefault(module, []).append(name)
    lines = ["# Python API 参考 API reference", "",
             "由 `tools/build_docs.py` 从文档字符串生成。每个公开名称都可以直接从 `perfsim` 导入。",
             "Generated from the docstrings by `tools/build_docs.py`. Every public name is importable from "
             "`perfsim` itself (`dir(perfsim)` lists them); here each is shown in the module that holds it.", ""]
    for module in sorted(modules):
        lines += [f"## perfsim.{module}", "", f"::: perfsim.{module}", "    options:", "      members:"]
        lines += [f"        - {n}" for n in sorted(modules[module])]
        lines.append("")
    return "\n".join(lines) + "\n"


def generate() -> list[Path]:
    GENERATED.mkdir(parents=True, exist_ok=True)
    (GENERATED / "tutorials").mkdir(exist_ok=True)
    written = [GENERATED / "cli.md", GENERATED / "api.md"]
    written[0].write_text(cli_reference(), encoding="utf-8")
    written[1].write_text(api_reference(), encoding="utf-8")
    for slug, text in section_pages().items():
        target = GENERATED / f"{slug}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    for name, text in tutorials().items():
        target = GENERATED / "tutorials" / f"{name}.md"
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="site")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    written = generate()
    print(f"generated {len(written)} page(s) in {GENERATED.relative_to(ROOT)}")
    if args.no_build:
        return 0
    return subprocess.call([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f",
                            str(ROOT / "mkdocs.yml"), "-d", str(Path(args.out).resolve())], cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
