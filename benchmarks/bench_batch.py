"""Batch speed: 16 scenario-notebook jobs as a sequential papermill loop vs perfsim batch.

Measured in one run on this machine:
  (a) a sequential loop of the `papermill` command line, one process per job;
  (b) `perfsim batch --jobs 2` on the same 16 jobs, three times, each a first batch (a
      fresh output folder and a fresh PERFSIM_CACHE, so no scenario check is remembered);
      the median run is reported (a shared machine's noise moves single runs by 10-20 %);
  (c) the median batch again, fully cached.
Targets: (b) at least 6x faster than (a) and within 1.5x of the limit on this machine,
which is the notebooks' own cell execution time (summed over the jobs, as papermill
recorded it in the executed notebooks of the same run) divided by the cores used; (c)
within 2 s. Where the rest of (b)'s time goes (kernel start, reset between jobs,
papermill's own work, HTML export, writing) is read from each job's ``timings`` in
manifest.json.

    python benchmarks/bench_batch.py [--jobs 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import perfsim
from perfsim.runners.plan import needs_base

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCENARIOS = [ROOT / "params" / "baseline.yaml"] + [
    ROOT / "params" / "scenarios" / f"{name}.yaml"
    for name in ("leader5_proportional", "leader5_to_satisfaction", "leader0")]
NOTEBOOKS = [ROOT / "notebooks" / f"{name}.ipynb"
             for name in ("00_template", "scheme_overview", "scoring", "comparison")]


def run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="batches (b) to run; the median is reported (default 3)")
    args = parser.parse_args()
    subprocess.run([str(BIN / "perfsim"), "score", str(SCENARIOS[0]), "--quiet"], check=True)  # world exists
    work = Path(tempfile.mkdtemp(prefix="perfsim-bench-"))
    try:
        t0 = time.perf_counter()
        for scenario in SCENARIOS:
            for notebook in NOTEBOOKS:
                if needs_base(notebook) and perfsim.load_scenario(scenario).base_path is None:
                    continue            # the batch skips a comparison of a plain scheme with itself
                out = work / "seq" / scenario.stem / notebook.stem
                out.mkdir(parents=True)
                run([str(BIN / "papermill"), str(notebook), str(out / notebook.name),
                     "-k", "python3", "--no-progress-bar",
                     "-p", "scenario", str(scenario), "-p", "out_dir", str(out)])
        sequential = time.perf_counter() - t0
        runs = []
        for k in range(max(1, args.repeat)):
            # each a first batch: a new output folder and a new cache (no scenario check remembered)
            env = {**os.environ, "PERFSIM_CACHE": str(work / f"cache{k}")}
            batch_cmd = [str(BIN / "perfsim"), "batch", *map(str, SCENARIOS),
                         *sum((["--notebook", str(n)] for n in NOTEBOOKS), []),
                         "--jobs", str(args.jobs), "--out", str(work), "--name", f"b{k}", "--no-progress"]
            runs.append((run(batch_cmd, env), k, batch_cmd, env))
        walls = [wall for wall, *_ in runs]
        batch, k, batch_cmd, env = sorted(runs)[len(runs) // 2]          # the median run
        manifest = json.loads((work / f"b{k}" / "manifest.json").read_text(encoding="utf-8"))
        cached = run(batch_cmd, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    jobs = sum(1 for j in manifest["jobs"] if j["status"] != "skipped")
    timings: dict[str, float] = {}
    for job in manifest["jobs"]:
        for key, value in (job.get("timings") or {}).items():
            timings[key] = timings.get(key, 0.0) + value
    cells = timings.get("cells", 0.0)
    cores = min(args.jobs, os.cpu_count() or 1)
    limit = cells / cores
    overhead = {"kernel start": timings.get("kernel_start", 0.0),
                "reset between jobs": timings.get("reset", 0.0),
                "papermill's own work": timings.get("papermill", 0.0) - cells,
                "HTML export (in the batch process)": timings.get("html", 0.0), "writing": timings.get("write", 0.0)}
    busy = sum(j.get("seconds", 0.0) for j in manifest["jobs"])
    print(f"{jobs} jobs ({len(SCENARIOS)} scenarios x {len(NOTEBOOKS)} notebooks, less the comparison of "
          "the plain baseline with itself, which both runs skip)")
    print(f"(a) sequential papermill CLI loop : {sequential:7.1f} s ({sequential / jobs:.2f} s a job)")
    print(f"(b) perfsim batch --jobs {args.jobs}        : {batch:7.1f} s ({batch / jobs:.2f} s a job; the median of "
          f"{len(walls)} first batches: {', '.join(f'{w:.1f}' for w in walls)} s)")
    print(f"(c) cached rerun of (b)           : {cached:7.1f} s")
    print(f"limit: cells' own execution {cells:.1f} s over {cores} cores = {limit:.1f} s")
    print(f"where (b)'s job time went ({busy:.1f} s in workers, summed):")
    print(f"  {'cells (the notebooks themselves)':34s} {cells:6.1f} s")
    for name, value in overhead.items():
        print(f"  {name:34s} {value:6.1f} s")
    started = [j["timings"] for j in manifest["jobs"] if "kernel_start" in (j.get("timings") or {})]
    print(f"kernels: {len(started)} started, {sum(t.get('kernel_forked', 0.0) for t in started):.0f} of them "
          "forked by the batch's kernel zygote")
    phases = manifest.get("phases", {})
    print(f"wall time of (b): planning {phases.get('plan', 0):.1f} s, running {phases.get('run', 0):.1f} s, "
          f"pages {phases.get('pages', 0):.1f} s, the rest (start-up, shut-down) "
          f"{batch - sum(phases.values()):.1f} s")
    print(f"speed-up (a)/(b): {sequential / batch:.2f}x (target >= 6x) -> "
          f"{'OK' if sequential / batch >= 6 else 'BELOW TARGET'}")
    print(f"(b) / limit: {batch / limit:.2f}x (target <= 1.5x) -> {'OK' if batch <= 1.5 * limit else 'OVER'}")
    print(f"cached rerun: {cached:.2f} s (target <= 2 s) -> {'OK' if cached <= 2 else 'OVER'}")

if __name__ == "__main__":
    main()
