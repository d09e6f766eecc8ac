"""perfsim batch: parallel, cached, resumable, failure-isolated, reproducible, Dask-ready."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import perfsim
from perfsim.runners.batch import run_batch
from perfsim.cli import main

from ..conftest import MINI, MINI_SCHEME, ROOT, TESTS
from ..factories import interruptible

SCENARIO = TESTS / "data" / "mini_scenario.yaml"
NOTEBOOKS = [ROOT / "notebooks" / "scoring.ipynb", ROOT / "notebooks" / "comparison.ipynb"]
TEST_NB = TESTS / "data" / "notebooks"


def table_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("tables/*.csv")) + sorted(root.rglob("tables/*.parquet"))}


@pytest.fixture(scope="module")
def batch_root(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    broken = out / "broken.yaml"
    broken.write_text("name: broken\nbase: nowhere.yaml\n", encoding="utf-8")
    code = main(["batch", str(MINI_SCHEME), str(SCENARIO), str(broken), "--data", str(MINI),
                 "--out", str(out), "--name", "t", "--jobs", "2", "--no-progress",
                 *sum((["--notebook", str(n)] for n in NOTEBOOKS), [])])
    return out / "t", code


def test_broken_scenario_fails_alone_and_exit_is_nonzero(batch_root):
    root, code = batch_root
    assert code == 1
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    status = {(j["scenario"], j["notebook"]): j["status"] for j in manifest["jobs"]}
    assert status == {("mini", "scoring"): "done", ("mini", "comparison"): "skipped",
                      ("mini_leader10", "scoring"): "done", ("mini_leader10", "comparison"): "done",
                      ("broken", "scoring"): "failed", ("broken", "comparison"): "failed"}
    errors = [j["error"] for j in manifest["jobs"] if j["status"] == "failed"]
    assert all("base file 'nowhere.yaml' not found" in e for e in errors)
    index = (root / "index.html").read_text(encoding="utf-8")
    assert "base file &#x27;nowhere.yaml&#x27; not found" in index
    assert "mini_leader10/comparison/comparison.report.html" in index
    assert "mini_leader10/scoring/scoring.html" in (root / "jobs.html").read_text(encoding="utf-8")
    from perfsim.report.pages import comparison_table
    table = comparison_table(root, manifest)
    grades = list(perfsim.load_scenario(MINI_SCHEME).scheme.grading.grades)
    counts = [c for c in table.columns if c in grades]
    assert counts == grades                                         # every grade, in the scheme's order
    scored = table[table["units"].notna()]
    assert (scored[counts].sum(axis=1) == scored["units"]).all()     # no missing counts
    row = table.set_index("scenario").loc["mini_leader10"]
    assert row["base"] == "mini" and 0 <= row["tau_vs_base"] <= 1


def test_outputs_and_manifest(batch_root):
    root, _ = batch_root
    job = root / "mini_leader10" / "comparison"
    for name in ("comparison.ipynb", "comparison.html", "job.json", "tables/rank_shifts.csv",
                 "tables/rank_shifts.parquet", "tables/summary.csv", "figures/rank_shifts.png"):
        assert (job / name).exists(), name
    nb = json.loads((job / "comparison.ipynb").read_text(encoding="utf-8"))
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    scenario = json.loads((root / "mini_leader10" / "scenario.json").read_text(encoding="utf-8"))
    assert scenario["diff"]["set"] == {"tree.leader.points": 10, "tree.satisfaction.points": 30}
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for key in ("data_hash", "perfsim_version", "git_commit", "seed", "environment", "scenarios"):
        assert key in manifest
    assert all(j["seconds"] >= 0 for j in manifest["jobs"])
    # the comparison tables agree with the engine: leader 20 -> 10, satisfaction 20 -> 30
    import pandas as pd
    shifts = pd.read_csv(job / "tables" / "rank_shifts.csv").set_index("unit_id")
    assert shifts.loc["U1", "total_base"] == pytest.approx(103.5)
    assert shifts.loc["U1", "total_scenario"] == pytest.approx(103.5 - 8 + 19.5 - 13)


@pytest.mark.slow          # (12 s: with the Dask test, what keeps make test within 10 minutes)
def test_rerun_is_cached_and_identical(batch_root, tmp_path):
    root, _ = batch_root
    before = table_hashes(root)
    manifest = run_batch([MINI_SCHEME, SCENARIO], NOTEBOOKS, out=root.parent, name="t",
                         data=str(MINI), jobs=2, progress=False)
    ran = [j for j in manifest["jobs"] if j["status"] != "skipped"]
    assert all(j["cached"] for j in ran) and len(ran) == 3 and len(manifest["jobs"]) == 4
    assert table_hashes(root) == before
    # an independent second run gives byte-identical tables
    again = run_batch([MINI_SCHEME, SCENARIO], NOTEBOOKS, out=tmp_path, name="t", data=str(MINI),
                      jobs=1, progress=False)
    assert not any(j["cached"] for j in again["jobs"] if j["status"] != "skipped")
    assert table_hashes(tmp_path / "t") == before


def test_force_reruns(tmp_path):
    kwargs = dict(out=tmp_path, name="f", data=str(MINI), jobs=1, progress=False)
    run_batch([MINI_SCHEME], NOTEBOOKS[:1], **kwargs)
    manifest = run_batch([MINI_SCHEME], NOTEBOOKS[:1], force=True, **kwargs)
    assert [j["cached"] for j in manifest["jobs"]] == [False]


def test_failing_notebook_is_recorded_with_its_error(tmp_path):
    manifest = run_batch([MINI_SCHEME], [TEST_NB / "fails.ipynb", NOTEBOOKS[0]], out=tmp_path,
                         name="x", data=str(MINI), jobs=1, progress=False)
    by_nb = {j["notebook"]: j for j in manifest["jobs"]}
    assert by_nb["scoring"]["status"] == "done"
    assert by_nb["fails"]["status"] == "failed"
    assert "ValueError: this notebook always fails" in by_nb["fails"]["error"]
    assert (tmp_path / "x" / "mini" / "fails" / "fails.ipynb").exists()   # kept for reading


def test_warm_kernel_jobs_are_isolated(tmp_path):
    manifest = run_batch([MINI_SCHEME, SCENARIO], [TEST_NB / "a_set_global.ipynb",
                                                    TEST_NB / "b_check_global.ipynb"],
                         out=tmp_path, name="iso", data=str(MINI), jobs=1, progress=False)
    assert [j["status"] for j in manifest["jobs"]] == ["done"] * 4, manifest["jobs"]
    assert len({j["worker_pid"] for j in manifest["jobs"]}) == 1      # one warm kernel served all


@pytest.mark.slow          # (18 s: a local Dask cluster starting its workers)
def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        manifest = run_batch([MINI_SCHEME, SCENARIO], NOTEBOOKS[:1], out=tmp_path, name="d",
                             data=str(MINI), scheduler=cluster.scheduler_address, progress=False)
    assert [j["status"] for j in manifest["jobs"]] == ["done", "done"]
    assert manifest["executor"].startswith("tcp://")
    local = run_batch([MINI_SCHEME, SCENARIO], NOTEBOOKS[:1], out=tmp_path, name="l",
                      data=str(MINI), jobs=1, progress=False)
    assert [j["status"] for j in local["jobs"]] == ["done", "done"]
    assert table_hashes(tmp_path / "d") == table_hashes(tmp_path / "l")


@pytest.mark.slow
def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    code = main(["batch", str(MINI_SCHEME), "--data", str(MINI), "--out", str(tmp_path),
                 "--scheduler", "tcp://127.0.0.1:1", "--no-progress",
                 "--notebook", str(NOTEBOOKS[0])])
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_batch_resumes_to_the_same_tables(tmp_path):
    args = [sys.executable, "-m", "perfsim.cli", "batch", str(MINI_SCHEME), str(SCENARIO),
            "--data", str(MINI), "--out", str(tmp_path), "--name", "k", "--jobs", "1",
            "--no-progress", *sum((["--notebook", str(n)] for n in NOTEBOOKS), [])]
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    root = tmp_path / "k"
    deadline = time.time() + 120
    while time.time() < deadline and not list(root.glob("*/*/job.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(root.glob("*/*/job.json")))
    assert 1 <= finished < 3, finished
    assert subprocess.run(args, capture_output=True).returncode == 0
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert sum(j["cached"] for j in manifest["jobs"]) >= finished
    assert not list(root.glob("*/.tmp-*"))
    clean = run_batch([MINI_SCHEME, SCENARIO], NOTEBOOKS, out=tmp_path, name="clean",
                      data=str(MINI), jobs=1, progress=False)
    assert all(j["status"] in ("done", "skipped") for j in clean["jobs"])
    assert table_hashes(root) == table_hashes(tmp_path / "clean")


def _dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.slow
def test_dead_kernel_and_endless_loop_fail_alone(tmp_path):
    started = time.perf_counter()
    manifest = run_batch([MINI_SCHEME], [TEST_NB / "dies.ipynb", TEST_NB / "loops.ipynb", NOTEBOOKS[0]],
                         out=tmp_path, name="d", data=str(MINI), jobs=1, progress=False, timeout=8)
    by_nb = {j["notebook"]: j for j in manifest["jobs"]}
    assert by_nb["dies"]["status"] == "failed" and "kernel died" in by_nb["dies"]["error"]
    assert by_nb["loops"]["status"] == "failed" and "TimeoutError" in by_nb["loops"]["error"]
    assert by_nb["scoring"]["status"] == "done"        # a fresh kernel after the dead one
    assert time.perf_counter() - started < 90


def _sleeping_batch(tmp_path, name: str, **popen) -> tuple[subprocess.Popen, int, int]:
    """A batch of two sleeping jobs on two workers, started; returns it with one job's
    kernel and the kernel's parent (its worker) once that kernel is running."""
    pids = tmp_path / "pids"
    env = dict(os.environ, PERFSIM_TEST_PIDS=str(pids))
    proc = subprocess.Popen([sys.executable, "-m", "perfsim.cli", "batch", str(MINI_SCHEME), str(SCENARIO),
                             "--notebook", str(TEST_NB / "sleeps.ipynb"), "--data", str(MINI), "--jobs", "2",
                             "--out", str(tmp_path), "--name", name, "--no-progress"],
                            env=env, stdout=subprocess.DEVNULL, **popen)
    deadline = time.time() + 90
    while not (pids.exists() and pids.read_text().strip()) and time.time() < deadline:
        time.sleep(0.2)
    kernel, parent = map(int, pids.read_text().split())
    return proc, kernel, parent


def test_killed_batch_leaves_no_workers_or_kernels(tmp_path):
    proc, kernel, parent = _sleeping_batch(tmp_path, "k", stderr=subprocess.DEVNULL)
    family = _descendants(proc.pid)          # the workers, the kernel zygote, the kernels (and any passing helper)
    assert kernel in family and parent in family and len(family) >= 4, family
    assert not _dead(kernel) and not _dead(parent)
    zygote_folders = {Path(os.fsdecode(args[-1])) for args in (Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[:-1]
                                                  for p in family if not _dead(p))
                      if b"perfsim.runners.zygote" in b" ".join(args)}      # (its kernels share its command line)
    from perfsim.runners.zygote import supported

    assert len(zygote_folders) == (1 if supported() else 0) and all(f.is_dir() for f in zygote_folders)
    proc.kill()
    proc.wait()
    deadline = time.time() + 15
    while not all(_dead(p) for p in family) and time.time() < deadline:
        time.sleep(0.5)
    assert all(_dead(p) for p in family), {p: Path(f"/proc/{p}/cmdline").read_text() for p in family if not _dead(p)}
    assert not any(folder.exists() for folder in zygote_folders)      # the zygote removed its socket folder


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from the parent ids in /proc)."""
    parents = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("PPid:")), None)
        parents[int(status.parent.name)] = ppid
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in out}
        out |= frontier
    return out


def test_ctrl_c_of_a_batch_ends_it_with_one_line_and_leaves_no_worker_or_kernel(tmp_path):
    """Ctrl-C at a terminal signals the whole foreground process group."""
    proc, kernel, worker = _sleeping_batch(tmp_path, "c", stderr=subprocess.PIPE, text=True,
                                           start_new_session=True, preexec_fn=interruptible)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("perfsim: interrupted (Ctrl-C);"), err   # one line only
    deadline = time.time() + 15
    while not (_dead(kernel) and _dead(worker)) and time.time() < deadline:
        time.sleep(0.2)
    assert _dead(kernel) and _dead(worker)


def test_more_jobs_than_work_start_one_worker_per_job(tmp_path):
    manifest = run_batch([MINI_SCHEME], NOTEBOOKS[:1], out=tmp_path, name="j", data=str(MINI), jobs=200,
                         progress=False)
    assert manifest["executor"] == "local processes (1)"
    assert [j["status"] for j in manifest["jobs"]] == ["done"]


def test_analyses_needing_synthetic_worlds_are_skipped_not_failed_on_user_data(tmp_path):
    """The reform notebook on a user's dataset: its validity ensemble and rater sweeps study
    the scheme on synthetic worlds, so they are skipped with their reason; the job is done
    and records them."""
    manifest = run_batch([SCENARIO], [ROOT / "notebooks" / "leader_rating_reform.ipynb"], out=tmp_path,
                         name="s", data=str(MINI), jobs=1, progress=False)
    job = manifest["jobs"][0]
    assert job["status"] == "done", job.get("error")
    skipped = {s["analysis"]: s["reason"] for s in job["skipped_analyses"]}
    verdict = skipped.pop("the verdict over the worlds the data allow")
    assert set(skipped) == {"validity over plausible worlds", "rater and points sweeps", "levers against rater bias"}
    assert all("not synthetic" in r for r in skipped.values())
    # the verdict over the worlds a city's data allow is meant for a user's data: it is
    # skipped only because this mini scheme cannot score the synthetic world
    assert "do not fit the synthetic world" in verdict
    record = json.loads((tmp_path / "s" / "mini_leader10" / "leader_rating_reform" / "job.json").read_text())
    assert record["skipped_analyses"] == job["skipped_analyses"]
    assert "skipped: validity over plausible worlds" in (tmp_path / "s" / "jobs.html").read_text(encoding="utf-8")


def test_a_relative_output_folder_works_with_warm_kernels(tmp_path, monkeypatch):
    """`make run` passes --out outputs: a path relative to the batch's folder, which the
    warm kernels (started elsewhere) must not resolve against their own."""
    monkeypatch.chdir(tmp_path)
    manifest = run_batch([SCENARIO], [ROOT / "notebooks" / "00_template.ipynb"], out="rel", name="r",
                         data=str(MINI), jobs=2, progress=False)
    assert [j["status"] for j in manifest["jobs"]] == ["done"]
    assert (tmp_path / "rel" / "r" / "mini_leader10" / "00_template" / "tables" / "scores.csv").exists()


def _dying_starts(monkeypatch, deaths: int) -> list:
    """Make the first ``deaths`` kernels that a batch starts die before they answer."""
    from perfsim.runners import kernels

    real, started = kernels._until_ready, []

    async def until_ready(km, kc, timeout):
        started.append(km.provisioner.process)
        if len(started) <= deaths:
            km.provisioner.process.kill()
            km.provisioner.process.wait()
        return await real(km, kc, timeout)

    monkeypatch.setattr(kernels, "_until_ready", until_ready)
    kernels._forget_kernel()
    return started


def test_a_kernel_that_dies_as_it_starts_is_started_again(monkeypatch):
    from perfsim.runners import kernels

    started = _dying_starts(monkeypatch, deaths=1)
    try:
        timings: dict = {}
        km = kernels._kernel(timings)
        assert len(started) == 2 and started[0].poll() is not None      # the second start serves
        assert kernels._alive(km) and started[1].poll() is None and timings["kernel_start"] > 0
        assert timings["kernel_start_retries"] == 1
        from perfsim.runners.batch import summary_table
        said = summary_table({"jobs": [{"scenario": "s", "notebook": "n", "status": "done", "cached": False,
                                        "timings": timings}]})
        assert "the kernel of s/n died as it started and was started again (1 time)" in said
        kernels.run_code(kernels._LOCAL.kc, "x = 1")                      # and it runs code
    finally:
        kernels._forget_kernel()
    assert started[1].poll() is not None                                 # forgetting it stops it


def test_a_kernel_that_keeps_dying_as_it_starts_is_an_error(monkeypatch):
    from perfsim.runners import kernels

    started = _dying_starts(monkeypatch, deaths=kernels.START_ATTEMPTS)
    with pytest.raises(RuntimeError, match="died as it started"):
        kernels._kernel({})
    assert len(started) == kernels.START_ATTEMPTS and all(p.poll() is not None for p in started)
    assert getattr(kernels._LOCAL, "km", None) is None


def test_a_check_passed_once_holds_for_a_new_batch_folder_but_not_for_new_data(tmp_path, monkeypatch):
    import shutil

    from perfsim.runners import batch
    from perfsim.sources import readers

    notebook = [TEST_NB / "a_set_global.ipynb"]
    run_batch([MINI_SCHEME], notebook, out=tmp_path, name="first", data=str(MINI), jobs=1, progress=False)
    loads: list = []
    real = readers.load_dataset
    monkeypatch.setattr(readers, "load_dataset", lambda *a, **k: loads.append(a) or real(*a, **k))
    manifest = run_batch([MINI_SCHEME], notebook, out=tmp_path, name="second", data=str(MINI), jobs=1,
                         progress=False)
    assert manifest["jobs"][0]["status"] == "done" and loads == []          # checked once already
    changed = tmp_path / "changed"
    shutil.copytree(MINI, changed)
    with open(next(changed.glob("*.csv")), "a", encoding="utf-8") as f:
        f.write("\n")                                                    # other bytes: another hash
    run_batch([MINI_SCHEME], notebook, out=tmp_path, name="third", data=str(changed), jobs=1, progress=False)
    assert len(loads) == 1                                               # new data are checked again
    assert len(json.loads(batch.validated_file().read_text(encoding="utf-8"))) >= 2


def test_index_reads_the_comparison_notebooks_rank_agreement_and_computes_it_without_one(batch_root, tmp_path):
    import shutil

    import pandas as pd

    from perfsim.report.pages import SUMMARY, comparison_table

    root = tmp_path / "t"
    shutil.copytree(batch_root[0], root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    summary = root / "mini_leader10" / Path(*SUMMARY)
    read = comparison_table(root, manifest).set_index("scenario").loc["mini_leader10"]
    overall = pd.read_csv(summary, encoding="utf-8-sig").iloc[-1]
    assert read["tau_vs_base"] == overall["kendall_tau"] and read["grade_changes"] == overall["grade_changes"]
    summary.unlink()
    computed = comparison_table(root, manifest).set_index("scenario").loc["mini_leader10"]
    assert computed["tau_vs_base"] == pytest.approx(read["tau_vs_base"], abs=1e-12)
    assert computed["mean_abs_shift"] == pytest.approx(read["mean_abs_shift"], abs=1e-12)
    assert computed["grade_changes"] == read["grade_changes"]
    frame = pd.read_csv(batch_root[0] / "mini_leader10" / Path(*SUMMARY), encoding="utf-8-sig")
    frame.loc[frame.index[-1], "kendall_tau"] = 0.123           # the notebook's figure is the one shown
    frame.to_csv(summary, index=False)
    assert comparison_table(root, manifest).set_index("scenario").loc["mini_leader10", "tau_vs_base"] == 0.123


def test_a_cache_folder_that_cannot_be_written_is_said_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("PERFSIM_CACHE", str(blocked))
    code = main(["batch", str(MINI_SCHEME), "--notebook", str(TEST_NB / "a_set_global.ipynb"), "--data", str(MINI),
                 "--out", str(tmp_path), "--name", "c", "--jobs", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0 and "checks are not remembered for later batches" in err and str(blocked) in err
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text(encoding="utf-8"))
    assert [j["status"] for j in manifest["jobs"]] == ["done"]
    assert "checks are not remembered" in manifest["warnings"][0]                 # and recorded
