"""A batch's plan: which jobs there are, what each depends on, which are cached.

Pure functions over the scenario files, notebooks and the batch folder's ``job.json``
records (read, never written): a scenario resolved (or its error), one job per (scenario,
notebook) keyed by a hash of everything its result depends on (:func:`job_key`), the jobs
whose folder already holds a finished result with the same key (:func:`split_cached`),
and the order to run the rest in (:func:`longest_first`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..core import VERSION as __version__
from ..core.errors import PerfsimError
from ..core.paths import shown_path
from .kernels import Job


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


@dataclass(frozen=True)
class Scenario:
    """A scenario file as the batch sees it: resolved and checked against the data, or its error."""

    file: Path
    name: str
    resolved: object | None
    error: str | None

    @property
    def hash(self) -> str | None:
        return self.resolved.content_hash() if self.resolved is not None else None

    def facts(self) -> dict:
        r = self.resolved
        return {"name": self.name, "file": shown_path(self.file), "status": "invalid" if self.error else "valid",
                "error": self.error, "hash": self.hash, "diff": r.diff if r is not None else None,
                "base": shown_path(r.base_path) if r is not None and r.base_path else None}


def resolve_scenarios(scenarios: Sequence[str | Path]) -> list[Scenario]:
    """Load and resolve every scenario file (its error recorded if it does not load); names
    are unique."""
    from ..core.scheme import load_scenario

    out: list[Scenario] = []
    seen: set[str] = set()
    for scenario in scenarios:
        path = Path(scenario)
        name, resolved, error = safe_name(path.stem), None, None
        try:
            resolved = load_scenario(path)
            name = safe_name(resolved.name)
        except PerfsimError as exc:
            resolved, error = None, " ".join(str(exc).split())
        if name in seen:
            name = f"{name}_{hashlib.sha256(str(path).encode()).hexdigest()[:6]}"
        seen.add(name)
        out.append(Scenario(path, name, resolved, error))
    return out


def job_key(scenario_hash: str, notebook_hash: str, data_hash: str, code_hash: str, year: int | None,
            seed: int, data: str | None) -> str:
    """What a job's result depends on: scenario content, notebook, data files, perfsim's
    version and code, year, seed and the data argument."""
    return hashlib.sha256("|".join([scenario_hash, notebook_hash, data_hash, __version__, code_hash,
                                    str(year), str(seed), str(data or "")]).encode()).hexdigest()


def needs_base(notebook: Path) -> bool:
    """Whether a notebook compares a scenario with its base (``metadata.perfsim.needs_base``):
    a batch does not run it for a plain scheme, which would be compared with itself."""
    try:
        meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return bool((meta.get("perfsim") or {}).get("needs_base"))


def plan_jobs(scenarios: Sequence[Scenario], notebooks: dict[Path, str], root: Path, data: str | None,
              data_hash: str, code_hash: str, year: int | None, seed: int, timeout: float
              ) -> tuple[list[Job], list[dict]]:
    """Jobs of the valid scenarios (each with its key), and records of the jobs that do not
    run: failed (an invalid scenario) or skipped (a comparing notebook for a plain scheme)."""
    jobs, failed = [], []
    comparing = {nb: needs_base(nb) for nb in notebooks}
    for sc in scenarios:
        for nb, nb_hash in notebooks.items():
            if sc.error:
                failed.append({"scenario": sc.name, "notebook": nb.stem, "key": None, "status": "failed",
                               "cached": False, "error": sc.error, "seconds": 0.0})
                continue
            if comparing[nb] and sc.resolved is not None and sc.resolved.base_path is None:
                failed.append({"scenario": sc.name, "notebook": nb.stem, "key": None, "status": "skipped",
                               "cached": False, "error": None, "seconds": 0.0,
                               "reason": f"compares a scenario with its base; '{sc.name}' is a plain scheme"})
                continue
            parameters = {"scenario": shown_path(sc.file), "data": shown_path(Path(data)) if data else "",
                          "year": year or 0, "seed": seed, "out_dir": "."}
            jobs.append(Job(scenario=shown_path(sc.file), scenario_name=sc.name, notebook=str(nb),
                            key=job_key(sc.hash, nb_hash, data_hash, code_hash, year, seed, data),
                            folder=str(root / sc.name / nb.stem), parameters=parameters, timeout=timeout))
    return jobs, failed


def split_cached(jobs: Sequence[Job], force: bool = False) -> tuple[list[Job], list[dict]]:
    """(jobs to run, records of jobs whose folder holds a finished result with the same key)."""
    to_run, cached = [], []
    for job in jobs:
        record_path = Path(job.folder) / "job.json"
        record: dict = {}
        if not force and record_path.exists():
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                record = {}
        if record.get("key") == job.key and record.get("status") == "done":
            cached.append(dict(record, cached=True, seconds=0.0))
        else:
            to_run.append(job)
    return to_run, cached


def longest_first(jobs: Sequence[Job]) -> list[Job]:
    """Jobs ordered by expected length, longest first, so that no worker is left with a long
    job at the end while the others wait (longest-processing-time scheduling). A job's
    length is its last run's, else the mean of its notebook's other jobs', else a guess
    from the notebook's number of code cells (in seconds, roughly)."""
    import json as _json

    seen: dict[str, list[float]] = {}
    last: dict[str, float] = {}
    for job in jobs:
        record = Path(job.folder) / "job.json"
        try:
            seconds = float(_json.loads(record.read_text(encoding="utf-8")).get("seconds") or 0.0)
        except (OSError, ValueError, TypeError):
            continue
        last[job.folder] = seconds
        seen.setdefault(job.notebook, []).append(seconds)
    cells: dict[str, int] = {}

    def expected(job: Job) -> float:
        if job.folder in last:
            return last[job.folder]
        if job.notebook in seen:
            return sum(seen[job.notebook]) / len(seen[job.notebook])
        if job.notebook not in cells:
            try:
                nb = _json.loads(Path(job.notebook).read_text(encoding="utf-8"))
                cells[job.notebook] = sum(1 for c in nb.get("cells", []) if c.get("cell_type") == "code")
            except (OSError, ValueError):
                cells[job.notebook] = 0
        return 0.25 * cells[job.notebook]

    return sorted(jobs, key=expected, reverse=True)

