"""Warm kernels forked from one process that has already imported what they all import.

A batch's warm kernel imports numpy, pandas, scipy, matplotlib, seaborn and perfsim
before its first job: about 3 s of CPU per kernel, paid by every local worker at once
and on the critical path of the whole batch. The zygote is one process that imports them
once (on one core, while the batch plans and validates on the other) and then forks one
Jupyter kernel (ipykernel's ``IPKernelApp``) per worker, each on its own connection file
in the zygote's folder. From then on a forked kernel is an ordinary ipykernel process:
its worker claims it (:func:`claim`), talks to it through jupyter_client as to any
kernel (:func:`attach`) and watches it by its process id (:class:`ForkedProcess`).

Nothing is shared between kernels after the fork: each has its own interpreter state,
sockets, history and working folder, and is reset between jobs like any warm kernel.
A worker that finds no slot, or a zygote that failed to start, falls back to starting
its kernel the ordinary way.

Lifetime: the zygote watches the batch process and ends with it, however it ends, killing
the kernels it forked and removing its folder first; told to stop (SIGTERM,
:meth:`Zygote.close`) it does the same. A kernel also ends by itself when the zygote is
gone (ipykernel's parent poller).

    python -m perfsim.runners.zygote FOLDER SLOTS PARENT_PID CWD
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

#: a worker waits at most this long for its forked kernel before starting one itself
CLAIM_WAIT = 60.0


@dataclass
class Zygote:
    """The batch side of a running zygote."""

    folder: Path
    slots: int
    process: subprocess.Popen

    def close(self) -> None:
        """Stop the zygote (it kills the kernels it forked) and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(slots: int, cwd: Path) -> Zygote:
    """Start a zygote that will fork ``slots`` kernels, each starting in ``cwd``."""
    folder = Path(tempfile.mkdtemp(prefix="perfsim-kernels-"))
    process = subprocess.Popen(
        [sys.executable, "-m", "perfsim.runners.zygote", str(folder), str(int(slots)), str(os.getpid()), str(cwd)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True,
        start_new_session=True)      # as jupyter_client starts kernels: Ctrl-C is the batch's to handle
    return Zygote(folder, int(slots), process)


class ForkedProcess:
    """The part of :class:`subprocess.Popen` that jupyter_client's local provisioner uses,
    for a kernel that is the zygote's child, not ours (the zygote reaps it: a dead kernel's
    process id is gone at once)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
            except PermissionError:      # the id was reused by another user's process
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def claim(folder: str | Path, slots: int, wait: float = CLAIM_WAIT) -> tuple[Path, int] | None:
    """Claim one of the zygote's kernels for this worker: its connection file and process
    id, once it is forked; ``None`` if every slot is taken, the zygote failed or died, or
    the kernel is not there within ``wait`` seconds."""
    folder = Path(folder)
    for slot in range(slots):
        try:
            os.close(os.open(folder / f"slot-{slot}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        except OSError:
            return None
        break
    else:
        return None
    pid_file, deadline = folder / f"slot-{slot}.pid", time.monotonic() + wait
    while not pid_file.exists():
        if (not folder.is_dir() or (folder / "failed").exists() or not _zygote_alive(folder)
                or time.monotonic() > deadline):
            return None
        time.sleep(0.01)
    return folder / f"slot-{slot}.json", int(pid_file.read_text())


def _zygote_alive(folder: Path) -> bool:
    try:
        pid = int((folder / "zygote.pid").read_text())
    except (OSError, ValueError):
        return True                      # not written yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def attach(connection_file: Path, pid: int, kernel_name: str):
    """A jupyter_client kernel manager for the forked kernel ``pid`` listening on
    ``connection_file``: it polls, interrupts and kills that process as it would one it
    had started itself."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    km = AsyncKernelManager(kernel_name=kernel_name)
    km.connection_file = str(connection_file)
    km.load_connection_file(str(connection_file))
    provisioner = LocalProvisioner(kernel_id=str(uuid.uuid4()), kernel_spec=km.kernel_spec, parent=km)
    provisioner.process = ForkedProcess(pid)
    provisioner.pid = pid
    km.provisioner = provisioner
    return km


# --------------------------------------------------------------------------- the zygote


def _publish(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _run_kernel(connection_file: Path, cwd: str) -> None:
    """In the forked child: become an ipykernel on ``connection_file``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)     # the kernel's own subprocesses are waited for
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(cwd)
        sys.argv = ["ipykernel_launcher", "-f", str(connection_file)]
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=["-f", str(connection_file)])
        code = 0
    finally:
        os._exit(code)


def main(argv: list[str]) -> None:
    folder, slots, parent, cwd = Path(argv[0]), int(argv[1]), int(argv[2]), argv[3]
    from .executors import watch_parent

    children: list[int] = []

    def end_kernels() -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(folder, ignore_errors=True)

    watch_parent(parent, before_exit=end_kernels)     # the batch died: nothing of ours outlives it
    _publish(folder / "zygote.pid", str(os.getpid()))
    if sys.path and sys.path[0] in ("", os.getcwd()):   # as ipykernel_launcher: not the caller's folder
        del sys.path[0]
    os.environ["JPY_PARENT_PID"] = str(os.getpid())    # each kernel's parent poller watches the zygote
    if not os.environ.get("MPLBACKEND"):               # what ipykernel sets before anything imports matplotlib
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        import gc

        from jupyter_client.connect import write_connection_file

        import ipykernel.kernelapp  # noqa: F401  (imported here, so each kernel starts from it)

        from .kernels import PRELOAD

        exec(PRELOAD, {})
        gc.collect()
        gc.freeze()        # what the imports built is shared with every kernel, never collected
    except BaseException as exc:       # the workers start their kernels the ordinary way
        _publish(folder / "failed", f"{type(exc).__name__}: {exc}\n")
        raise SystemExit(1) from None
    def stop(signum, frame) -> None:
        end_kernels()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)      # forked kernels are reaped as they end
    for slot in range(slots):
        connection_file = folder / f"slot-{slot}.json"
        write_connection_file(str(connection_file))
        pid = os.fork()
        if pid == 0:
            _run_kernel(connection_file, cwd)
        children.append(pid)
        _publish(folder / f"slot-{slot}.pid", str(pid))
    while True:                # until the batch ends (watch_parent) or stops us (SIGTERM)
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
