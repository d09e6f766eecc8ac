"""The kernel zygote: kernels forked from one process that imported what they need, in the
state an ordinary kernel starts in; and a worker that cannot use it starts its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from perfsim.runners import kernels, zygote

pytestmark = pytest.mark.skipif(not zygote.supported(), reason="kernel zygotes need Linux pidfds")

#: a kernel's state that its jobs' output depends on, written as JSON to the file OUT
STATE = r'''
import json as _j, sys as _s, os as _o, signal as _sg, warnings as _w, threading as _t
import numpy as _np, pandas as _pd, matplotlib as _m, matplotlib.pyplot as _plt
_w.simplefilter("ignore")          # (reading deprecated pandas options warns)
_opts = {}
for _k in _pd._config.config._registered_options:
    try:
        _opts[_k] = repr(_pd.get_option(_k))
    except Exception as _e:
        _opts[_k] = type(_e).__name__
_w.resetwarnings()
_plt.figure(); _plt.plot([1, 2]); _plt.close("all")
_ip = get_ipython()
open(OUT, "w").write(_j.dumps({
    "pandas": _opts, "rc": {k: repr(v) for k, v in _m.rcParams.items()}, "backend": _m.get_backend(),
    "numpy": repr(_np.get_printoptions()), "env": dict(_o.environ), "path": _s.path, "cwd": _o.getcwd(),
    "argv0": _o.path.basename(_s.argv[0]), "modules": sorted(_s.modules),
    "signals": {str(s): repr(_sg.getsignal(s)) for s in (_sg.SIGINT, _sg.SIGTERM, _sg.SIGCHLD, _sg.SIGPIPE)},
    "stdout": repr(type(_s.stdout)), "encoding": _s.stdout.encoding, "displayhook": repr(type(_s.displayhook)),
    "events": {k: len(v) for k, v in _ip.events.callbacks.items()}, "recursion": _s.getrecursionlimit(),
    "warning_filters": sorted(repr(f) for f in _w.filters)}, sort_keys=True))
'''


def _manager():
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=kernels.KERNEL)
    km.write_connection_file()
    return km


def _state(km, out: Path) -> dict:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(60)
        for code in (kernels.WARM_UP.replace("_x.watch_parent(_os.getppid())\n", ""),
                     kernels.RESET.format(cwd=str(out.parent)), f"OUT = {str(out)!r}\n" + STATE):
            reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
    return json.loads(out.read_text())


def test_a_forked_kernel_starts_in_the_state_of_an_ordinary_one(tmp_path, monkeypatch):
    """pandas picks its display defaults by asking whether it is imported in a kernel, and
    imports set environment variables: a kernel forked from the zygote, which imported
    outside any kernel, must still show tables and figures as an ordinary kernel does."""
    # the zygote and both kernels start from an environment without what imports set in it
    # (this test's process imported pandera, which sets these two)
    for name in ("SPARK_LOCAL_IP", "PYARROW_IGNORE_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    env = dict(os.environ)
    with zygote.kernel_zygote(kernels.NOTEBOOK_DIR) as address:
        km = _manager()
        pid = zygote.request_kernel(address, km.format_kernel_cmd(), env, str(kernels.NOTEBOOK_DIR))
        forked_process = zygote.ForkedProcess(pid)
        try:
            forked = _state(km, tmp_path / "forked.json")
        finally:
            forked_process.kill()
            assert forked_process.wait(10) == -signal.SIGKILL
    km = _manager()
    km.start_kernel(cwd=str(kernels.NOTEBOOK_DIR), stderr=subprocess.DEVNULL, env=env)
    try:
        ordinary = _state(km, tmp_path / "ordinary.json")
    finally:
        km.shutdown_kernel(now=True)
    for state in (forked, ordinary):
        state["env"].pop("JPY_PARENT_PID")                 # (each kernel's own parent)
    # (perfsim.runners.kernels imports perfsim.runners.zygote, so an ordinary kernel has it too)
    assert set(forked["modules"]) - set(ordinary["modules"]) == set()
    assert set(ordinary["modules"]) <= set(forked["modules"])
    del forked["modules"], ordinary["modules"]
    assert forked["pandas"]["display.max_columns"] == "20"    # what a kernel gets, not a terminal's 0
    assert forked["env"]["PYARROW_IGNORE_TIMEZONE"] == "1"    # set by the zygote's imports, kept
    assert {k: v for k, v in forked.items() if ordinary[k] != v} == {}


def test_a_batch_runs_its_jobs_on_kernels_forked_by_its_zygote(tmp_path):
    from perfsim.runners.batch import run_batch

    from ..conftest import MINI, MINI_SCHEME, ROOT

    before = set(Path(tempfile.gettempdir()).glob("perfsim-z-*"))
    manifest = run_batch([MINI_SCHEME], [ROOT / "notebooks" / "scoring.ipynb", ROOT / "notebooks" / "00_template.ipynb"],
                         out=tmp_path, name="z", data=str(MINI), jobs=2, progress=False)
    jobs = manifest["jobs"]
    assert [j["status"] for j in jobs] == ["done", "done"], jobs
    forked = [j["timings"]["kernel_forked"] for j in jobs if "kernel_forked" in j["timings"]]
    assert forked == [1.0, 1.0], jobs                  # each worker's first job tells how its kernel started
    assert not any("kernel_note" in j for j in jobs)
    assert set(Path(tempfile.gettempdir()).glob("perfsim-z-*")) == before   # its folder is gone


def test_the_zygote_ends_with_its_block_and_serves_every_order_until_then(tmp_path):
    with zygote.kernel_zygote(kernels.NOTEBOOK_DIR) as address:
        folder = Path(address).parent
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:      # a malformed order
            conn.settimeout(120)
            conn.connect(address)
            conn.sendall(b'{"argv": 3}\n')
            reply = json.loads(zygote._read_line(conn))
        assert "could not read its order" in reply["error"]
        km = _manager()                                                     # and it serves the next
        pid = zygote.request_kernel(address, km.format_kernel_cmd(), dict(os.environ), str(tmp_path))
        kernel = zygote.ForkedProcess(pid)
        assert kernel.poll() is None
        assert os.getpgid(pid) == pid                      # its own session: interrupted as a group
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "perfsim-kernel"
        with pytest.raises(subprocess.TimeoutExpired):
            kernel.wait(0.1)
        zygote_pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    deadline = time.time() + 15
    while kernel.poll() is None and time.time() < deadline:      # the zygote gone, its kernels follow
        time.sleep(0.2)
    assert kernel.poll() == -signal.SIGKILL
    assert not folder.exists()
    assert not Path(f"/proc/{zygote_pid}").exists()


def test_a_kernel_ends_when_the_worker_that_asked_for_it_ends(tmp_path):
    """The order names the asking process: its kernel watches it (a killed worker leaves none)."""
    asker = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    with zygote.kernel_zygote(kernels.NOTEBOOK_DIR) as address:
        km = _manager()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(120)
            conn.connect(address)
            order = {"argv": km.format_kernel_cmd()[3:], "env": dict(os.environ), "cwd": str(tmp_path),
                     "watch": asker.pid}
            conn.sendall(json.dumps(order).encode() + b"\n")
            kernel = zygote.ForkedProcess(json.loads(zygote._read_line(conn))["pid"])
        assert kernel.poll() is None
        asker.kill()
        asker.wait()
        assert kernel.wait(15) == -signal.SIGKILL


def test_a_command_that_is_not_an_ipykernel_launch_is_not_sent_to_the_zygote():
    with pytest.raises(zygote.ZygoteError, match="not an ipykernel launch"):
        zygote.request_kernel("/nowhere", [sys.executable, "-c", "print(1)"], {}, "/")


def test_a_worker_whose_zygote_cannot_answer_starts_its_kernel_itself_and_says_why(tmp_path):
    from perfsim.runners.batch import summary_table

    kernels._forget_kernel()
    kernels._ZYGOTE["address"] = str(tmp_path / "no-zygote-here")
    try:
        timings: dict = {}
        km = kernels._kernel(timings)
        assert kernels._alive(km) and timings["kernel_forked"] == 0.0
        assert isinstance(km.provisioner.process, subprocess.Popen)         # started the ordinary way
        assert "did not answer" in kernels._ALONE[0]
        kernels.run_code(kernels._LOCAL.kc, "x = 1")
        job = kernels.Job(scenario=str(tmp_path / "s.yaml"), scenario_name="s",
                          notebook=str(kernels.NOTEBOOK_DIR / "00_template.ipynb"), key="k",
                          folder=str(tmp_path / "out"))
        kernels._PREWARMED.update(timings)
        record = kernels.execute_job(job, html=False)
        assert "not forked by the kernel zygote" in record["kernel_note"]
        assert "did not answer" in record["kernel_note"]
        said = summary_table({"jobs": [record]})
        assert "note: s/00_template: its kernel was started on its own" in said
        from perfsim.report.pages import write_jobs

        page = write_jobs(tmp_path, {"batch": "b", "jobs": [record]}, "en").read_text(encoding="utf-8")
        assert "note: its kernel was started on its own" in page
    finally:
        kernels._ZYGOTE.clear()
        kernels._ALONE.clear()
        kernels._forget_kernel()


def test_the_zygote_s_last_words_explain_a_refusal(tmp_path):
    (tmp_path / "log").write_text("Traceback ...\nImportError: no module named ipykernel\n")
    assert zygote._last_words(str(tmp_path / "socket")) == ": ImportError: no module named ipykernel"
    assert zygote._last_words(str(tmp_path / "nowhere" / "socket")) == ""
