"""Warm kernels forked from the batch's zygote: claimed once each, isolated, watched by
process id, and gone when the zygote is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from perfsim.runners.batch import run_batch
from perfsim.runners.kernels import KERNEL, run_code
from perfsim.runners.zygote import ForkedProcess, attach, claim, start

from .conftest import MINI, MINI_SCHEME, TESTS
from .test_hardening import interruptible

SCENARIO = TESTS / "data" / "mini_scenario.yaml"
TEST_NB = TESTS / "data" / "notebooks"


def _gone(pid: int, wait: float = 10.0) -> bool:
    deadline = time.time() + wait
    while time.time() < deadline:
        if ForkedProcess(pid).poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_each_worker_claims_its_own_forked_kernel_and_stopping_the_zygote_ends_them(tmp_path):
    zygote = start(2, tmp_path)
    try:
        first, second = claim(zygote.folder, 2), claim(zygote.folder, 2)
        assert first is not None and second is not None
        assert first[1] != second[1]
        assert claim(zygote.folder, 2, wait=1) is None              # no third slot
        km = attach(*first, KERNEL)
        run_code(km, f"import os\nopen({str(tmp_path / 'who')!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}} "
                     f"{{os.getcwd()}}')")
        pid, ppid, cwd = (tmp_path / "who").read_text().split(" ", 2)
        assert int(pid) == first[1] and int(ppid) == zygote.process.pid and cwd == str(tmp_path)
        assert ForkedProcess(first[1]).poll() is None
    finally:
        zygote.close()
    assert _gone(first[1]) and _gone(second[1])
    assert not zygote.folder.exists()


def test_a_killed_forked_kernel_is_seen_dead_at_once(tmp_path):
    zygote = start(1, tmp_path)
    try:
        connection, pid = claim(zygote.folder, 1)
        process = ForkedProcess(pid)
        assert process.poll() is None
        process.kill()
        assert process.wait(timeout=10) is not None                # reaped by the zygote, not left a zombie
    finally:
        zygote.close()


def test_a_failed_zygote_sends_workers_to_ordinary_kernels(tmp_path):
    (tmp_path / "failed").write_text("ImportError: no module\n")
    started = time.perf_counter()
    assert claim(tmp_path, 2) is None
    gone = tmp_path / "closed"
    gone.mkdir()
    (gone / "zygote.pid").write_text(str(os.getpid()))      # alive, but its folder goes away
    import threading

    threading.Timer(0.3, lambda: __import__("shutil").rmtree(gone)).start()
    assert claim(gone, 1) is None
    assert time.perf_counter() - started < 5


def test_batch_jobs_run_on_forked_kernels_and_stay_isolated(tmp_path):
    manifest = run_batch([MINI_SCHEME, SCENARIO], [TEST_NB / "a_set_global.ipynb", TEST_NB / "b_check_global.ipynb"],
                         out=tmp_path, name="z", data=str(MINI), jobs=2, progress=False)
    jobs = manifest["jobs"]
    assert [j["status"] for j in jobs] == ["done"] * 4, jobs
    assert {j["kernel"] for j in jobs} == {"forked by the batch's zygote"}
    assert len({j["worker_pid"] for j in jobs}) == 2
    assert not [p for p in os.listdir(tempfile.gettempdir()) if p.startswith("perfsim-kernels-")
                and os.path.getmtime(os.path.join(tempfile.gettempdir(), p)) > time.time() - 60]


def test_a_zygote_whose_batch_is_killed_ends_its_kernels_and_removes_its_folder(tmp_path):
    """The batch process is SIGKILLed (no clean-up of its own can run)."""
    code = ("import sys, time; sys.path[:0] = sys.argv[2:]\n"
            "from perfsim.runners.zygote import start, claim\n"
            "z = start(1, sys.argv[1]); c = claim(z.folder, 1)\n"
            "print(z.folder, z.process.pid, c[1], flush=True); time.sleep(600)")
    batch = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), *sys.path], stdout=subprocess.PIPE, text=True)
    folder, zygote, kernel = batch.stdout.readline().split()
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    assert _gone(int(zygote)) and _gone(int(kernel))
    deadline = time.time() + 10
    while os.path.exists(folder) and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(folder)


def _dead(pid: int) -> bool:
    try:
        return "\nState:\tZ" in open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return True


def test_ctrl_c_of_a_batch_ends_it_with_one_line_and_leaves_no_kernel_or_zygote(tmp_path):
    """Ctrl-C at a terminal signals the whole foreground process group."""
    pids = tmp_path / "pids"
    env = dict(os.environ, PERFSIM_TEST_PIDS=str(pids))
    proc = subprocess.Popen([sys.executable, "-m", "perfsim.cli", "batch", str(MINI_SCHEME), str(SCENARIO),
                             "--notebook", str(TEST_NB / "sleeps.ipynb"), "--data", str(MINI), "--jobs", "2",
                             "--out", str(tmp_path), "--name", "c", "--no-progress"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=interruptible)
    deadline = time.time() + 90
    while not (pids.exists() and pids.read_text().strip()) and time.time() < deadline:
        time.sleep(0.2)
    kernel, zygote = map(int, pids.read_text().split())
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("perfsim: interrupted"), err
    deadline = time.time() + 15
    while not (_dead(kernel) and _dead(zygote)) and time.time() < deadline:
        time.sleep(0.2)
    assert _dead(kernel) and _dead(zygote)


def test_without_a_zygote_workers_start_their_own_kernels_and_say_so(tmp_path, monkeypatch):
    import pytest

    import perfsim.runners.zygote as zygote_module

    def no_zygote(slots, cwd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zygote_module, "start", no_zygote)
    with pytest.warns(Warning, match="warm kernels are started one by one: no zygote"):
        manifest = run_batch([MINI_SCHEME, SCENARIO], [TEST_NB / "a_set_global.ipynb"], out=tmp_path, name="n",
                             data=str(MINI), jobs=2, progress=False)
    assert [j["status"] for j in manifest["jobs"]] == ["done", "done"]
    assert {j["kernel"] for j in manifest["jobs"]} == {"started"}
