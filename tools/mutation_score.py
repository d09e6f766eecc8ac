"""The mutation score per module from a mutmut 3 run (the ``mutants/`` folder `make mutation`
leaves): how many mutants each mutated module has, how many were tested, killed, survived,
reached by no test, timed out or not checked yet, and the share killed.

    python tools/mutation_score.py [--root mutants] [--markdown]

The score is killed / (killed + survived + timed out + no tests) over the mutants tested;
a module with mutants not yet checked is marked "partial". Timeouts count as not killed
(mutmut counts them as found, but a mutant that only makes the tests slow is a gap too).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

#: mutmut 3's exit codes (mutmut.stats.status_by_exit_code), the ones a run leaves
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "killed", None: "not checked", 2: "not checked"}
COLUMNS = ("mutants", "killed", "survived", "no tests", "timeout", "not checked", "score")


def module_of(meta: Path, root: Path) -> str:
    return ".".join(meta.relative_to(root).with_suffix("").with_suffix("").parts)


def counts(root: Path) -> dict[str, Counter]:
    """Per mutated module, its mutants counted by status."""
    table: dict[str, Counter] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if codes:
            table[module_of(meta, root)] = Counter(STATUS.get(code, "suspicious") for code in codes.values())
    return table


def score(c: Counter) -> float | None:
    tested = c["killed"] + c["survived"] + c["timeout"] + c["no tests"] + c["suspicious"]
    return c["killed"] / tested if tested else None


def rows(table: dict[str, Counter]) -> list[list[str]]:
    out, total = [], Counter()
    for module, c in table.items():
        total.update(c)
        out.append(_row(module, c))
    out.append(_row("all", total))
    return out


def _row(name: str, c: Counter) -> list[str]:
    s = score(c)
    shown = "-" if s is None else f"{100 * s:.1f} %" + (" (partial)" if c["not checked"] else "")
    return [name, str(sum(c.values())), str(c["killed"]), str(c["survived"]), str(c["no tests"]),
            str(c["timeout"]), str(c["not checked"]), shown]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="mutants", help="mutmut's folder of mutants (default: mutants)")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (for the README)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"mutation_score: {root} is not a folder; run `make mutation` first", file=sys.stderr)
        return 2
    table = rows(counts(root))
    header = ["module", *COLUMNS]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * len(COLUMNS)) + "|")
        for r in table:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
        for r in [header, *table]:
            print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
