"""Batches: every scenario through every notebook, in parallel, cached and resumable.

``run_batch`` takes a lock on ``OUT/NAME/`` (two batches never write one folder at once),
resolves and validates each scenario against the dataset before any notebook runs
(:func:`validate_scenarios`; papermill validates no parameters), plans one job per
(scenario, notebook) keyed by a hash of everything the job depends on and serves
unchanged jobs from their folders (:mod:`perfsim.runners.plan`, pure), runs the rest on
local worker processes or a Dask cluster (:mod:`perfsim.runners.kernels` on the worker side),
and writes ``OUT/NAME/manifest.json`` and the report pages (``index.html``, ``jobs.html``).

Each job builds its folder ``OUT/NAME/<scenario>/<notebook>/`` (executed notebook, its
HTML renderings, ``tables/``, ``figures/``, ``job.json``) in a temporary sibling folder
and renames it into place, so a killed batch leaves no half-written result and a rerun
finishes only what is missing. Local workers and their kernels end with the batch,
however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import time
import warnings
from concurrent.futures import as_completed
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..core import VERSION as __version__
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.files import check_dir_target, write_json
from ..core.paths import DEFAULT_SEED, PROJECT_DIR, cache_dir, shown_path
from ..report.provenance import environment, files_hash, git_commit, source_hash
from .kernels import NOTEBOOK_DIR, WORKER_MODULES, Job, execute_job
from .plan import Scenario, longest_first, plan_jobs, resolve_scenarios, split_cached

#: a batch name is one folder name, never a path
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def default_notebooks() -> list[Path]:
    """The notebooks a batch runs by default: all of notebooks/ except the 00_ template."""
    return sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if not p.name.startswith("00_"))


def default_scenarios() -> list[Path]:
    """params/baseline.yaml first, then every file in params/scenarios/."""
    return [PROJECT_DIR / "params" / "baseline.yaml",
            *sorted((PROJECT_DIR / "params" / "scenarios").glob("*.yaml"))]


def check_name(name: str) -> str:
    if not SAFE_NAME.match(name) or name in (".", ".."):
        raise PerfsimError(f"batch name {name!r} is not a plain folder name (letters, digits, _ . - only)")
    return name


# --------------------------------------------------------------------------- lock

@contextmanager
def batch_lock(root: Path) -> Iterator[None]:
    """Hold ``root/.lock`` for the batch; another batch on the same folder is refused."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / ".lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise PerfsimError(f"another perfsim batch (pid {holder}) is writing to this folder; "
                               "wait for it to finish or use another --name", where=root) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()          # releases the lock (also when the process is killed)


# --------------------------------------------------------------------------- checking

def validate_scenarios(scenarios: Sequence[Scenario], data_path: Path, data_hash: str, year: int | None,
                       code_hash: str, validated: set[str]) -> list[Scenario]:
    """Check each resolved scenario against the dataset (loaded only when some check is not
    already in ``validated``, which gains the new ones); a misfit becomes the scenario's error."""
    dataset = None
    out = []
    for sc in scenarios:
        if sc.resolved is not None:
            fit_key = hashlib.sha256(f"{data_hash}|{sc.hash}|{code_hash}|{year}".encode()).hexdigest()
            if fit_key not in validated:
                from ..core.engine import check_fit          # (pandas: only when a check runs)
                from ..sources.readers import load_dataset

                try:
                    dataset = dataset or load_dataset(data_path)
                    check_fit(sc.resolved, dataset, year)
                    validated.add(fit_key)
                except PerfsimError as exc:
                    sc = Scenario(sc.file, sc.name, None, " ".join(str(exc).split()))
        out.append(sc)
    return out


# --------------------------------------------------------------------------- running

def _clean_stale(root: Path) -> None:
    """Remove temporary folders that a killed batch left behind."""
    for stale in list(root.glob("*/.tmp-*")) + list(root.glob("*/.old-*")):
        shutil.rmtree(stale, ignore_errors=True)


def validated_file() -> Path:
    """The checks already passed, shared by every batch: the key of a check is the hash of
    the data, the resolved scenario, the code and the year, so a check passed once holds
    for any batch folder (a new folder then starts without loading the data)."""
    return cache_dir() / "validated.json"


def _load_validated(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError):
        return set()


def _save_validated(path: Path, validated: set[str]) -> list[str]:
    """Add ``validated`` to the file (another batch may have added checks meanwhile). A
    cache folder that cannot be written is said (a warning, also returned for the
    manifest), and the batch goes on: later batches then check again."""
    known = _load_validated(path)
    if validated <= known:
        return []
    try:
        write_json(path, sorted(known | validated))
        return []
    except (PerfsimError, OSError) as exc:
        said = (f"the scenarios' checks are not remembered for later batches ({' '.join(str(exc).split())}); "
                "set PERFSIM_CACHE to a writable folder")
        warnings.warn(said, PerfsimWarning, stacklevel=2)
        return [said]


def run_batch(scenarios: Sequence[str | Path], notebooks: Sequence[str | Path] | None = None, *,
              out: str | Path = "outputs", name: str = "default", jobs: int = 2,
              scheduler: str | None = None, data: str | None = None, year: int | None = None,
              seed: int = DEFAULT_SEED, force: bool = False, progress: bool | None = None,
              warm: bool = True, timeout: float = 1800.0, lang: str = "zh") -> dict:
    """Run a batch; return the manifest (also written to OUT/NAME/manifest.json)."""
    started = time.perf_counter()
    check_name(name)
    notebooks = [Path(n) for n in (notebooks or default_notebooks())]
    for nb in notebooks:
        if not nb.is_file():
            raise PerfsimError("notebook not found", where=nb)
    if data not in (None, "") and not Path(data).exists():
        raise PerfsimError("no such folder or workbook", where=Path(data))
    root = check_dir_target(Path(out)) / name
    with batch_lock(root), contextlib.ExitStack() as stack:
        _clean_stale(root)
        # Workers (and their kernels) start as early as it is known that jobs will run: at
        # once for a new batch folder or --force (nothing can be served from it), else once
        # the plan shows what is not cached. Either way kernels start while scenarios are
        # resolved and checked against the data (and before this process imports pandas
        # to do that); a pool with nothing to run is stopped.
        pool = None
        if force or not (root / "manifest.json").exists():
            pool = stack.enter_context(_early_workers(jobs, scheduler, warm, len(scenarios) * len(notebooks)))
        from ..sources.world import data_path as resolve_data

        dpath = resolve_data(data)
        data_hash, code_hash = files_hash(dpath), source_hash()
        nb_hashes = {nb.resolve(): hashlib.sha256(nb.read_bytes()).hexdigest() for nb in notebooks}
        resolved = resolve_scenarios(scenarios)
        planned, _ = plan_jobs(resolved, nb_hashes, root, data, data_hash, code_hash, year, seed, timeout)
        to_run, cached = split_cached(planned, force)
        if pool is None:
            pool = stack.enter_context(_early_workers(jobs, scheduler, warm, len(to_run)))
        validated = _load_validated(validated_file())
        needed = {job.scenario_name for job in to_run}
        checked = {sc.name: sc for sc in validate_scenarios([sc for sc in resolved if sc.name in needed],
                                                            dpath, data_hash, year, code_hash, validated)}
        prepared = [checked.get(sc.name, sc) for sc in resolved]
        said = _save_validated(validated_file(), validated)
        invalid = {sc.name for sc in prepared if sc.error}
        _, failed = plan_jobs([sc for sc in prepared if sc.error or sc.resolved.base_path is None], nb_hashes,
                              root, data, data_hash, code_hash, year, seed, timeout)
        to_run = longest_first([job for job in to_run if job.scenario_name not in invalid])
        for sc in prepared:
            if sc.resolved is not None:
                write_json(root / sc.name / "scenario.json",
                           {"file": shown_path(sc.file), "hash": sc.hash, "diff": sc.resolved.diff,
                            "resolved": sc.resolved.raw})
        records: list[dict] = list(cached) + list(failed)
        manifest = {
            "batch": name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "perfsim_version": __version__, "git_commit": git_commit(), "seed": seed, "year": year,
            "jobs": records, "executor": scheduler or f"local processes ({min(jobs, max(1, len(to_run)))})",
            "environment": environment(), "data": shown_path(Path(data)) if data else "bundled synthetic world",
            "data_hash": data_hash, "code_hash": code_hash,
            "notebooks": {p.stem: h for p, h in nb_hashes.items()},
            "scenarios": [sc.facts() for sc in prepared],
            "phases": {"plan": round(time.perf_counter() - started, 3)},
        }
        if said:
            manifest["warnings"] = said
        write_json(root / "manifest.json", manifest)
        t0 = time.perf_counter()
        if to_run:
            _run_jobs(to_run, jobs, scheduler, warm, records, manifest, root, progress, pool)
        manifest["phases"]["run"] = round(time.perf_counter() - t0, 3)
        order = {s["name"]: i for i, s in enumerate(manifest["scenarios"])}
        records.sort(key=lambda r: (order.get(r["scenario"], 0), r["notebook"]))
        t0 = time.perf_counter()
        _write_pages(root, manifest, lang)
        manifest["phases"]["pages"] = round(time.perf_counter() - t0, 3)
        manifest["seconds"] = round(time.perf_counter() - started, 3)
        write_json(root / "manifest.json", manifest)
    return manifest


@contextmanager
def _early_workers(jobs: int, scheduler: str | None, warm: bool, most: int):
    """Local workers started before planning, each warming its kernel meanwhile (kernel
    start-up then overlaps validation); stopped at once if nothing is left to run."""
    from .executors import local_executor, start_workers, terminate
    from .kernels import prewarm
    from .zygote import kernel_zygote

    workers = min(jobs, most)
    if scheduler or workers <= 1:
        yield None
        return
    with kernel_zygote(NOTEBOOK_DIR) if warm else contextlib.nullcontext() as zygote:
        for module in WORKER_MODULES:     # once here, not in each worker (forked with them)
            importlib.import_module(module)
        pool = local_executor(workers, functools.partial(prewarm, zygote) if warm else None)
        start_workers(pool)
        ok = False
        try:
            yield pool
            ok = True
        finally:
            if ok and getattr(pool, "used", False):
                pool.shutdown(wait=True)     # workers end normally and shut their kernels down
            else:
                terminate(pool)


def _run_jobs(to_run: list[Job], jobs: int, scheduler: str | None, warm: bool, records: list,
              manifest: dict, root: Path, progress: bool, pool=None) -> None:
    from .executors import executor_for

    if pool is not None and to_run:            # warm already: even one job runs there
        pool.used = True
        _collect_futures(pool, to_run, warm, records, manifest, root, progress)
        return
    with executor_for(jobs, scheduler, len(to_run)) as executor:
        if executor is None:
            for _ in _collect((execute_job(job, warm) for job in to_run), len(to_run), records, manifest, root,
                              progress):
                pass
        else:
            _collect_futures(executor, to_run, warm, records, manifest, root, progress)


def _collect_futures(executor, to_run: list[Job], warm: bool, records: list, manifest: dict, root: Path,
                     progress: bool) -> None:
    """Jobs on worker processes; each job's HTML pages are rendered here, in this process,
    while the workers go on with the next jobs (it would otherwise hold up a worker)."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    futures = {executor.submit(execute_job, job, warm, False): job for job in to_run}
    with ThreadPoolExecutor(max_workers=1) as pages:
        rendered: list = []
        for record in _collect((_result(f, futures[f]) for f in as_completed(futures)), len(to_run), records,
                               manifest, root, progress):
            job = futures_by_label(futures)[f"{record['scenario']}/{record['notebook']}"]
            rendered.append(pages.submit(_render_html, job, record))
            if len(rendered) == 1:
                # the modules the pages at the end need, imported while jobs run (not while
                # the kernels start, which would only slow their start down)
                rendered += [pages.submit(importlib.import_module, m)
                             for m in ("perfsim.report.pages", "perfsim.analyses.compare", "openpyxl")]
        if isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(wait=False)   # workers stop their kernels while the last pages are written
        for future in rendered:
            future.result()


def futures_by_label(futures: dict) -> dict[str, Job]:
    return {job.label: job for job in futures.values()}


def _render_html(job: Job, record: dict) -> None:
    from .kernels import export_html

    notebook = Path(job.folder) / Path(job.notebook).name
    if notebook.exists():
        t0 = time.perf_counter()
        export_html(notebook)
        record.setdefault("timings", {})["html"] = round(time.perf_counter() - t0, 3)


def _write_pages(root: Path, manifest: dict, lang: str = "zh") -> None:
    """index.html (and its companions) unless nothing they show has changed."""
    from ..report.pages import write_index

    records = manifest["jobs"]
    index_key = hashlib.sha256(json.dumps(
        [[j["scenario"], j["notebook"], j.get("key"), j["status"], j.get("error")] for j in records]
        + [manifest["scenarios"], source_hash(), lang], sort_keys=True, default=str).encode()).hexdigest()
    manifest["index_key"] = index_key
    previous = root / ".index_key"
    if not (root / "index.html").exists() or not previous.exists() \
            or previous.read_text().strip() != index_key:
        write_index(root, manifest, lang)
        previous.write_text(index_key + "\n")


def _result(future, job: Job) -> dict:
    try:
        return future.result()
    except Exception as exc:  # the worker itself died
        return {"scenario": job.scenario_name, "notebook": Path(job.notebook).stem, "key": job.key,
                "status": "failed", "cached": False, "error": f"worker failed: {exc!r}", "seconds": 0.0}


def _collect(iterator: Iterable[dict], total: int, records: list, manifest: dict, root: Path,
             progress: bool) -> Iterator[dict]:
    """Record each finished job (the manifest is rewritten each time, so progress survives a
    kill) and pass it on."""
    from tqdm.auto import tqdm

    from .executors import show_progress

    with tqdm(total=total, desc="batch", unit="job", disable=not show_progress(progress), file=sys.stderr) as bar:
        for record in iterator:
            records.append(record)
            write_json(root / "manifest.json", manifest)
            bar.set_postfix_str(f"{record['scenario']}/{record['notebook']}: {record['status']}")
            bar.update(1)
            yield record


def summary_table(manifest: dict) -> str:
    """done / cached / failed counts and times, then one line per failure."""
    jobs = manifest["jobs"]
    done = sum(1 for j in jobs if j["status"] == "done" and not j["cached"])
    cached = sum(1 for j in jobs if j["cached"])
    failed = [j for j in jobs if j["status"] == "failed"]
    skipped = sum(1 for j in jobs if j["status"] == "skipped")
    busy = sum(j.get("seconds", 0.0) for j in jobs)
    lines = [f"{'jobs':>8} {'done':>6} {'cached':>7} {'skipped':>8} {'failed':>7} {'job s':>8} {'wall s':>8}",
             f"{len(jobs):>8} {done:>6} {cached:>7} {skipped:>8} {len(failed):>7} {busy:>8.1f} "
             f"{manifest.get('seconds', 0.0):>8.1f}"]
    for j in failed:
        lines.append(f"FAILED {j['scenario']}/{j['notebook']}: {j['error']}")
    for j in jobs:
        if j.get("kernel_note"):
            lines.append(f"note: {j['scenario']}/{j['notebook']}: {j['kernel_note']}")
        retries = (j.get("timings") or {}).get("kernel_start_retries")
        if retries:
            lines.append(f"note: the kernel of {j['scenario']}/{j['notebook']} died as it started and was "
                         f"started again ({retries} time{'s' if retries > 1 else ''})")
        for s in j.get("skipped_analyses", ()):
            lines.append(f"skipped in {j['scenario']}/{j['notebook']}: {s['analysis']} ({s['reason']})")
    return "\n".join(lines)
