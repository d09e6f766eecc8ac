"""Batches: every scenario through every notebook, in parallel, cached and resumable.

``run_batch`` plans one job per (scenario, notebook), validates each scenario against the
dataset before any notebook runs (papermill validates no parameters), skips jobs whose
content key is unchanged, runs the rest on a :mod:`concurrent.futures` executor (a local
process pool, or a Dask cluster's ``Client.get_executor()``), and writes
``OUT/NAME/manifest.json`` and ``OUT/NAME/index.html``.

Each job builds its folder ``OUT/NAME/<scenario>/<notebook>/`` (executed notebook, its
HTML rendering, ``tables/``, ``figures/``, ``job.json``) in a temporary sibling folder
and renames it into place, so a killed batch leaves no half-written result and a rerun
finishes only what is missing.

Speed: kernel start-up and imports dominate small notebooks, so each worker keeps one
warm kernel (per thread) and reuses it between jobs, resetting the user namespace
(``%reset -f``), closing figures and restoring matplotlib settings before every job.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import __version__
from .errors import PerfsimError
from .paths import PROJECT_DIR
from .report import environment, files_hash, git_commit, source_hash, write_json

NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
KERNEL = "python3"
DEFAULT_SEED = 20250101
WARM_UP = ("import numpy, pandas, scipy.stats, matplotlib, matplotlib.pyplot, seaborn, perfsim, "
           "perfsim.engine, perfsim.compare, perfsim.report, perfsim.plotting\n"
           "import perfsim.batch as _b, matplotlib as _m\n"
           "_b.KERNEL_RC = dict(_m.rcParams)\n"
           "del _b, _m")
RESET = ("%reset -f\n"
         "import matplotlib.pyplot as _plt, matplotlib as _m, perfsim.batch as _b, os as _os\n"
         "_plt.close('all')\n"
         "_m.rcParams.update(_b.KERNEL_RC)\n"
         "_os.chdir(_b.KERNEL_CWD)\n"
         "del _plt, _m, _b, _os")
KERNEL_RC: dict = {}
KERNEL_CWD = str(NOTEBOOK_DIR)


def default_notebooks() -> list[Path]:
    """The notebooks a batch runs by default: all of notebooks/ except the 00_ template."""
    return sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if not p.name.startswith("00_"))


def default_scenarios() -> list[Path]:
    """params/baseline.yaml first, then every file in params/scenarios/."""
    return [PROJECT_DIR / "params" / "baseline.yaml",
            *sorted((PROJECT_DIR / "params" / "scenarios").glob("*.yaml"))]


@dataclass(frozen=True)
class Job:
    """One scenario through one notebook."""

    scenario: str
    scenario_name: str
    notebook: str
    key: str
    folder: str
    parameters: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.scenario_name}/{Path(self.notebook).stem}"


# --------------------------------------------------------------------------- worker side

_LOCAL = threading.local()


def _kernel():
    """This thread's warm kernel, started (and warmed up) on first use."""
    from jupyter_client.manager import KernelManager

    km = getattr(_LOCAL, "km", None)
    if km is not None and km.is_alive():
        return km
    km = KernelManager(kernel_name=KERNEL)
    km.start_kernel(cwd=KERNEL_CWD)
    _run_code(km, WARM_UP)
    _LOCAL.km = km
    try:
        from multiprocessing import util

        util.Finalize(None, _shutdown_kernel, args=(km,), exitpriority=10)
    except Exception:  # pragma: no cover - not in a multiprocessing worker
        pass
    import atexit

    atexit.register(_shutdown_kernel, km)
    return km


def _shutdown_kernel(km) -> None:
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    except Exception:
        pass


def _run_code(km, code: str) -> None:
    """Run set-up code on the kernel through a short-lived client of its own."""
    client = km.client()
    client.start_channels()
    try:
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"kernel set-up failed: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()


def _execute(notebook: str, output: Path, parameters: dict, warm: bool) -> None:
    import papermill as pm

    kwargs: dict[str, Any] = {}
    if warm:
        km = _kernel()
        _run_code(km, RESET)
        kwargs["km"] = km
    pm.execute_notebook(notebook, str(output), parameters=parameters, kernel_name=KERNEL,
                        progress_bar=False, request_save_on_cell_execute=False,
                        cwd=KERNEL_CWD, **kwargs)


def _html(notebook: Path) -> Path | None:
    try:
        from nbconvert import HTMLExporter
        import nbformat

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
        html = notebook.with_suffix(".html")
        html.write_text(body, encoding="utf-8")
        return html
    except Exception:  # an HTML rendering is a convenience; never fail a job for it
        return None


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside, then removed."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def execute_job(job: Job, warm: bool = True) -> dict:
    """Run one job; always returns its record (status done or failed), never raises."""
    started = time.perf_counter()
    final = Path(job.folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    output = tmp / Path(job.notebook).name
    status, error = "done", None
    try:
        _execute(job.notebook, output, dict(job.parameters, out_dir=str(tmp)), warm)
    except Exception as exc:  # a failing notebook is recorded, not raised
        status = "failed"
        ename = getattr(exc, "ename", type(exc).__name__)
        evalue = getattr(exc, "evalue", str(exc))
        cell = getattr(exc, "exec_count", None)
        error = f"{ename}: {evalue}" + (f" (cell [{cell}])" if cell else "")
        if warm and type(exc).__name__ == "DeadKernelError":
            _LOCAL.km = None
    if output.exists():
        _html(output)
    record = {
        "scenario": job.scenario_name, "notebook": Path(job.notebook).stem, "key": job.key,
        "status": status, "cached": False, "error": error,
        "seconds": round(time.perf_counter() - started, 3), "worker_pid": os.getpid(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(tmp / "job.json", record)
    _swap_into_place(tmp, final)
    return record


# --------------------------------------------------------------------------- planning

def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def plan(scenarios: Sequence[str | Path], notebooks: Sequence[str | Path], data: str | None,
         year: int | None, seed: int, root: Path, force: bool = False
         ) -> tuple[list[Job], list[dict], list[dict], dict]:
    """Validate scenarios and split the jobs into (to run, cached, failed) plus batch facts.

    A scenario is checked against the dataset once; the check is remembered in
    ``OUT/NAME/.validated.json`` under a key of data files, resolved scheme and code, so a
    cached rerun does not load the dataset at all.
    """
    from .scheme import load
    from .world import ensure_synthetic

    data_path = Path(data) if data else ensure_synthetic()
    if not data_path.exists():
        raise PerfsimError("no such folder or workbook", where=data_path)
    data_hash = files_hash(data_path)
    code_hash = source_hash()
    memo_path = root / ".validated.json"
    try:
        validated = set(json.loads(memo_path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError):
        validated = set()
    dataset = None
    nb_hashes = {}
    for nb in notebooks:
        path = Path(nb)
        if not path.exists():
            raise PerfsimError("notebook not found", where=path)
        nb_hashes[str(path.resolve())] = hashlib.sha256(path.read_bytes()).hexdigest()
    to_run, cached, failed, scenario_facts = [], [], [], []
    seen: set[str] = set()
    for scenario in scenarios:
        path = Path(scenario)
        name = _safe_name(path.stem)
        try:
            resolved = load(path)
            name = _safe_name(resolved.name)
            digest = resolved.content_hash()
            fit_key = hashlib.sha256(f"{data_hash}|{digest}|{code_hash}|{year}".encode()).hexdigest()
            if fit_key not in validated:
                if dataset is None:
                    from .data import load_dataset

                    dataset = load_dataset(data_path)
                from .engine import check_fit

                check_fit(resolved, dataset, year)
                validated.add(fit_key)
            error, diff = None, resolved.diff
        except PerfsimError as exc:
            resolved, error, digest, diff = None, " ".join(str(exc).split()), None, None
        if name in seen:
            name = f"{name}_{hashlib.sha256(str(path).encode()).hexdigest()[:6]}"
        seen.add(name)
        scenario_facts.append({"name": name, "file": str(path), "status": "invalid" if error else "valid",
                               "error": error, "hash": digest, "diff": diff,
                               "base": str(resolved.base_path) if resolved and resolved.base_path else None})
        if resolved is not None:
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / "scenario.json", {"file": str(path), "hash": digest, "diff": diff,
                                                  "resolved": resolved.raw})
        for nb, nb_hash in nb_hashes.items():
            stem = Path(nb).stem
            folder = root / name / stem
            if error:
                failed.append({"scenario": name, "notebook": stem, "key": None, "status": "failed",
                               "cached": False, "error": error, "seconds": 0.0})
                continue
            key = hashlib.sha256("|".join([digest, nb_hash, data_hash, __version__, code_hash,
                                           str(year), str(seed), str(data)]).encode()).hexdigest()
            record_path = folder / "job.json"
            if not force and record_path.exists():
                try:
                    record = json.loads(record_path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    record = {}
                if record.get("key") == key and record.get("status") == "done":
                    cached.append(dict(record, cached=True, seconds=0.0))
                    continue
            parameters = {"scenario": str(path.resolve()), "data": str(Path(data).resolve()) if data else "",
                          "year": year or 0, "seed": seed}
            to_run.append(Job(scenario=str(path.resolve()), scenario_name=name, notebook=nb,
                              key=key, folder=str(folder), parameters=parameters))
    write_json(memo_path, sorted(validated))
    facts = {"data": str(data) if data else "bundled synthetic world", "data_hash": data_hash,
             "code_hash": code_hash, "notebooks": {Path(k).stem: v for k, v in nb_hashes.items()},
             "scenarios": scenario_facts}
    return to_run, cached, failed, facts


# --------------------------------------------------------------------------- running

def executor_for(jobs: int, scheduler: str | None) -> tuple[Executor, Any]:
    """A concurrent.futures executor: local worker processes, or a Dask cluster's (and its client)."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise PerfsimError("--scheduler needs dask distributed (pip install 'perfsim[dask]')") from None
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise PerfsimError(f"cannot reach the Dask scheduler ({exc})", where=scheduler) from None
        return client.get_executor(pure=False), client
    return ProcessPoolExecutor(max_workers=max(1, jobs)), None


def _clean_stale(root: Path) -> None:
    """Remove temporary folders that a killed batch left behind."""
    for stale in list(root.glob("*/.tmp-*")) + list(root.glob("*/.old-*")):
        shutil.rmtree(stale, ignore_errors=True)


def run_batch(scenarios: Sequence[str | Path], notebooks: Sequence[str | Path] | None = None, *,
              out: str | Path = "outputs", name: str = "default", jobs: int = 2,
              scheduler: str | None = None, data: str | None = None, year: int | None = None,
              seed: int = DEFAULT_SEED, force: bool = False, progress: bool = True,
              warm: bool = True) -> dict:
    """Run a batch; return the manifest (also written to OUT/NAME/manifest.json)."""
    from .index import write_index

    started = time.perf_counter()
    notebooks = [Path(n) for n in (notebooks or default_notebooks())]
    root = Path(out) / name
    root.mkdir(parents=True, exist_ok=True)
    _clean_stale(root)
    to_run, cached, failed, facts = plan(scenarios, notebooks, data, year, seed, root, force)
    records: list[dict] = list(cached) + list(failed)
    manifest = {
        "batch": name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "perfsim_version": __version__, "git_commit": git_commit(), "seed": seed, "year": year,
        "jobs": records, "executor": scheduler or f"local processes ({jobs})",
        "environment": environment(), **facts,
    }
    write_json(root / "manifest.json", manifest)
    if to_run:
        if scheduler is None and jobs <= 1:
            iterator = (execute_job(job, warm) for job in to_run)
            _collect(iterator, len(to_run), records, manifest, root, progress)
        else:
            executor, client = executor_for(jobs, scheduler)
            try:
                futures = {executor.submit(execute_job, job, warm): job for job in to_run}
                iterator = (_result(f, futures[f]) for f in as_completed(futures))
                _collect(iterator, len(to_run), records, manifest, root, progress)
            finally:
                executor.shutdown(wait=True)
                if client is not None:
                    client.close()
    order = {(s["name"]): i for i, s in enumerate(facts["scenarios"])}
    records.sort(key=lambda r: (order.get(r["scenario"], 0), r["notebook"]))
    # the index depends only on which jobs exist and their keys and states
    index_key = hashlib.sha256(json.dumps(
        [[j["scenario"], j["notebook"], j.get("key"), j["status"], j.get("error")] for j in records]
        + [facts["scenarios"]], sort_keys=True, default=str).encode()).hexdigest()
    manifest["index_key"] = index_key
    previous = root / ".index_key"
    if not (root / "index.html").exists() or not previous.exists() \
            or previous.read_text().strip() != index_key:
        write_index(root, manifest)
        previous.write_text(index_key + "\n")
    manifest["seconds"] = round(time.perf_counter() - started, 3)
    write_json(root / "manifest.json", manifest)
    return manifest


def _result(future, job: Job) -> dict:
    try:
        return future.result()
    except Exception as exc:  # the worker itself died
        return {"scenario": job.scenario_name, "notebook": Path(job.notebook).stem, "key": job.key,
                "status": "failed", "cached": False, "error": f"worker failed: {exc!r}", "seconds": 0.0}


def _collect(iterator: Iterable[dict], total: int, records: list, manifest: dict, root: Path,
             progress: bool) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="batch", unit="job", disable=not progress, file=sys.stderr) as bar:
        for record in iterator:
            records.append(record)
            write_json(root / "manifest.json", manifest)   # progress survives a kill
            bar.set_postfix_str(f"{record['scenario']}/{record['notebook']}: {record['status']}")
            bar.update(1)


def summary_table(manifest: dict) -> str:
    """done / cached / failed counts and times, then one line per failure."""
    jobs = manifest["jobs"]
    done = sum(1 for j in jobs if j["status"] == "done" and not j["cached"])
    cached = sum(1 for j in jobs if j["cached"])
    failed = [j for j in jobs if j["status"] == "failed"]
    busy = sum(j.get("seconds", 0.0) for j in jobs)
    lines = [f"{'jobs':>8} {'done':>6} {'cached':>7} {'failed':>7} {'job s':>8} {'wall s':>8}",
             f"{len(jobs):>8} {done:>6} {cached:>7} {len(failed):>7} {busy:>8.1f} "
             f"{manifest.get('seconds', 0.0):>8.1f}"]
    for j in failed:
        lines.append(f"FAILED {j['scenario']}/{j['notebook']}: {j['error']}")
    return "\n".join(lines)
