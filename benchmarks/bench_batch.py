"""Batch speed: 16 scenario-notebook jobs as a sequential papermill loop vs perfsim batch.

Measured in one run on this machine:
  (a) a sequential loop of the `papermill` command line, one process per job;
  (b) `perfsim batch --jobs 2` on the same 16 jobs (fresh output folder);
  (c) the same batch again, fully cached.
Targets (issue 3): (b) at least 4x faster than (a); (c) within 2 s.

    python benchmarks/bench_batch.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCENARIOS = [ROOT / "params" / "baseline.yaml"] + [
    ROOT / "params" / "scenarios" / f"{name}.yaml"
    for name in ("leader5_proportional", "leader5_to_satisfaction", "leader0")]
NOTEBOOKS = [ROOT / "notebooks" / f"{name}.ipynb"
             for name in ("00_template", "scheme_overview", "scoring", "comparison")]


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    subprocess.run([str(BIN / "perfsim"), "score", str(SCENARIOS[0]), "--quiet"], check=True)  # world exists
    work = Path(tempfile.mkdtemp(prefix="perfsim-bench-"))
    try:
        t0 = time.perf_counter()
        for scenario in SCENARIOS:
            for notebook in NOTEBOOKS:
                out = work / "seq" / scenario.stem / notebook.stem
                out.mkdir(parents=True)
                run([str(BIN / "papermill"), str(notebook), str(out / notebook.name),
                     "-k", "python3", "--no-progress-bar",
                     "-p", "scenario", str(scenario), "-p", "out_dir", str(out)])
        sequential = time.perf_counter() - t0
        batch_cmd = [str(BIN / "perfsim"), "batch", *map(str, SCENARIOS),
                     *sum((["--notebook", str(n)] for n in NOTEBOOKS), []),
                     "--jobs", str(args.jobs), "--out", str(work), "--name", "b", "--no-progress"]
        batch = run(batch_cmd)
        cached = run(batch_cmd)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    jobs = len(SCENARIOS) * len(NOTEBOOKS)
    print(f"{jobs} jobs ({len(SCENARIOS)} scenarios x {len(NOTEBOOKS)} notebooks)")
    print(f"(a) sequential papermill CLI loop : {sequential:7.1f} s ({sequential / jobs:.2f} s a job)")
    print(f"(b) perfsim batch --jobs {args.jobs}        : {batch:7.1f} s ({batch / jobs:.2f} s a job)")
    print(f"(c) cached rerun of (b)           : {cached:7.1f} s")
    print(f"speed-up (a)/(b): {sequential / batch:.2f}x (target >= 4x) -> "
          f"{'OK' if sequential / batch >= 4 else 'BELOW TARGET'}")
    print(f"cached rerun: {cached:.2f} s (target <= 2 s) -> {'OK' if cached <= 2 else 'OVER'}")


if __name__ == "__main__":
    main()
