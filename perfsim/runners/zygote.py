"""A kernel zygote: a batch's kernels forked from one process that has imported what they need.

Every warm kernel imports the same modules before its first job (numpy, pandas, scipy.stats,
matplotlib, perfsim: about 2 s of CPU each). On 2 cores, with the batch checking its
scenarios at the same time, the kernels' imports are most of the wait before the first
job. A batch therefore starts one zygote (:func:`kernel_zygote`): a process that imports
ipykernel and those modules once, then, asked by a worker (:func:`request_kernel`), forks a
child that becomes that worker's kernel with the environment, working folder and connection
file the worker's kernel manager chose. The import is paid once and the kernels share its
memory until they write to it; each kernel is still its own process, which its worker
resets between jobs as before.

The zygote listens on a socket in a private folder (mode 0700) and reads its orders from
no one else. It ends when the batch closes its standard input, or when the batch dies
(the pipe then closes); each kernel ends when its worker or the zygote is gone. Where the
zygote cannot serve (not Linux, no pidfd, it failed to import, it died), the worker starts
its kernel the ordinary way and the job records why.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

#: what every job's notebooks import, imported by a kernel before its first job or by the
#: zygote that forks the kernels (here, not in :mod:`perfsim.runners.kernels`, which imports
#: this module: one direction only)
WARM_IMPORTS = ("import numpy, pandas, scipy.stats, matplotlib, matplotlib.pyplot, seaborn, perfsim\n"
                "import perfsim.core.engine, perfsim.analyses.compare, perfsim.report.outputs, perfsim.report.plotting\n"
                "import perfsim.runners.notebook, perfsim.runners.executors, perfsim.runners.kernels\n")
#: the largest order a zygote reads (the kernel's environment is most of it)
MAX_REQUEST = 1 << 20
#: how long a worker waits for its kernel (the zygote imports before it forks)
WAIT = 120.0
#: the command line a kernel is started with, which a zygote can stand in for
LAUNCHER = ("-m", "ipykernel_launcher")


@functools.lru_cache(maxsize=None)
def supported() -> bool:
    """A zygote needs fork and process file descriptors (Linux 5.3 and later)."""
    if not (sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:              # an older kernel, or a sandbox that refuses the call
        return False
    return True


# --------------------------------------------------------------------------- the batch's side

@contextlib.contextmanager
def kernel_zygote(cwd: str | Path) -> Iterator[str | None]:
    """Start a zygote for the duration of the block, in ``cwd`` (where kernels start); yield
    the address workers ask it at (``None`` where zygotes are not supported). It imports
    while the batch goes on."""
    if not supported():
        yield None
        return
    folder = tempfile.mkdtemp(prefix="perfsim-z-")           # mode 0700: ours alone
    address = os.path.join(folder, "socket")
    # listening before the zygote starts, so that workers can ask at once (it answers once imported)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server, \
            open(os.path.join(folder, "log"), "wb") as log:
        server.bind(address)
        server.listen(64)
        process = subprocess.Popen([sys.executable, "-c", "from perfsim.runners.zygote import main; main()",
                                    str(server.fileno()), folder], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=log, cwd=cwd, pass_fds=(server.fileno(),))
    try:
        yield address
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()                   # the zygote's signal to end
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- the worker's side

class ZygoteError(OSError):
    """The zygote could not give a kernel (the worker then starts one itself)."""


def request_kernel(address: str, cmd: list[str], env: dict[str, str], cwd: str, timeout: float = WAIT) -> int:
    """Ask the zygote at ``address`` for a kernel that runs ``cmd`` (an ipykernel launch line)
    with ``env`` in ``cwd`` and ends when this process ends; return its process id."""
    if len(cmd) < 3 or tuple(cmd[1:3]) != LAUNCHER:
        raise ZygoteError(f"the kernel's command is not an ipykernel launch ({' '.join(cmd[:3])})")
    order = json.dumps({"argv": list(cmd[3:]), "env": dict(env), "cwd": str(cwd), "watch": os.getpid()})
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(address)
            conn.sendall(order.encode() + b"\n")
            reply = _read_line(conn)
    except OSError as exc:
        raise ZygoteError(f"the kernel zygote did not answer ({exc}){_last_words(address)}") from None
    if not reply:
        raise ZygoteError(f"the kernel zygote ended before answering{_last_words(address)}")
    answer = json.loads(reply)
    if "pid" not in answer:
        raise ZygoteError(str(answer.get("error", "the kernel zygote refused")))
    return int(answer["pid"])


def _last_words(address: str) -> str:
    """The last line the zygote wrote to its log (why it failed), if any."""
    try:
        lines = Path(address).with_name("log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ZygoteError("an order to the kernel zygote is too long")
    return data.strip()


class ForkedProcess:
    """A kernel the zygote forked, handled as ``subprocess.Popen`` handles a child (jupyter's
    kernel manager polls, waits for and kills its kernel through such an object). It is not
    this process's child, so it is followed through a process file descriptor."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._fd: int | None = os.pidfd_open(pid)

    def poll(self) -> int | None:
        return self.wait(0) if self.returncode is None and self._ended(0) else self.returncode

    def _ended(self, timeout: float | None) -> bool:
        if self._fd is None:
            return True
        return bool(select.select([self._fd], [], [], timeout)[0])

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self.returncode = -signal.SIGKILL      # (its exit status went to the zygote)
            os.close(self._fd)
            self._fd = None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None and self._fd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._fd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# --------------------------------------------------------------------------- the zygote

def main() -> None:
    """The zygote process: import, then fork a kernel per order on the socket it was given
    until its stdin closes; then remove its folder (also when the batch was killed)."""
    server = socket.socket(fileno=int(sys.argv[1]))   # bound and listening (by the batch)
    folder = sys.argv[2]
    _name("perfsim-zygote")
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C ends the batch, which ends us
    # what the kernel sets before its first import, set here before ours
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if sys.path and sys.path[0] == "":
        del sys.path[0]                               # as ipykernel_launcher does
    import gc

    before = dict(os.environ)
    with _as_in_a_kernel():
        import ipykernel.ipkernel  # noqa: F401 - what every kernel imports
        import ipykernel.kernelapp  # noqa: F401
        import runpy  # noqa: F401 - (ipykernel_launcher runs through it)

        exec(WARM_IMPORTS, {"__name__": "perfsim_zygote"})      # noqa: S102 - our own constant
    # what the imports put in the environment (pandas' dependencies set some), kept for the kernels
    added = {k: v for k, v in os.environ.items() if before.get(k) != v}
    gc.collect()
    gc.freeze()                                       # shared with the kernels, never collected
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)     # kernels are reaped by the system
    while True:
        ready, _, _ = select.select([server, 0], [], [])
        if 0 in ready and not os.read(0, 4096):      # the batch closed our stdin or died:
            shutil.rmtree(folder, ignore_errors=True)
            os._exit(0)                               # nothing to flush, no interpreter to tear down
        if server in ready:
            conn, _ = server.accept()
            with conn:
                _serve(conn, server, added)


def _name(name: str) -> None:
    """The name ``ps`` and ``top`` show for this process."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name)


class _KernelShell:
    """What a module sees of IPython while it is imported in a kernel: a shell with a
    kernel (pandas, for one, chooses its display defaults by this)."""

    kernel = True
    config = {"IPKernelApp": {}}


@contextlib.contextmanager
def _as_in_a_kernel() -> Iterator[None]:
    """Imports here see what they would see in a kernel: a ``get_ipython`` whose shell has a
    kernel, and output streams in UTF-8 (a kernel's are). Checked against a kernel's own
    state (pandas' options, matplotlib's settings, the environment) by the tests."""
    import builtins
    import io

    streams = sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(open(os.devnull, "wb"), encoding="UTF-8")
    sys.stderr = io.TextIOWrapper(open(os.devnull, "wb"), encoding="UTF-8")
    builtins.get_ipython = _KernelShell
    try:
        yield
    finally:
        del builtins.get_ipython
        for stream in (sys.stdout, sys.stderr):
            stream.close()
        sys.stdout, sys.stderr = streams


def _serve(conn: socket.socket, server: socket.socket, added: dict[str, str]) -> None:
    try:
        conn.settimeout(10)
        order = json.loads(_read_line(conn))
        argv, env, cwd, watch = order["argv"], order["env"], order["cwd"], int(order["watch"])
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv) and isinstance(env, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
                and isinstance(cwd, str)):
            raise ValueError("malformed order")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"error": f"the kernel zygote could not read its order ({exc})"}).encode()
                         + b"\n")
        return
    started, told = os.pipe()
    pid = os.fork()
    if pid == 0:                                      # the kernel to be
        code = 1
        try:
            os.close(started)
            server.close()
            conn.close()
            _become_kernel(argv, {**env, **added}, cwd, watch, told)
            code = 0
        except BaseException:                         # noqa: BLE001 - never back into the zygote's loop
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(told)
    ok = os.read(started, 1) == b"1"                  # it has its own session and watches its worker
    os.close(started)
    reply = {"pid": pid} if ok else {"error": "the forked kernel failed as it started"}
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(reply).encode() + b"\n")


def _become_kernel(argv: list[str], env: dict[str, str], cwd: str, watch: int, told: int) -> None:
    """In the forked child: become an ipykernel as ``python -m ipykernel_launcher ARGV`` would,
    in its own session (the worker interrupts or kills it as a process group), with the
    worker's environment and folder, ending when the worker or the zygote ends."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    _name("perfsim-kernel")                           # (its command line is still the zygote's)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.environ.clear()
    os.environ.update(env)
    os.environ["JPY_PARENT_PID"] = str(os.getppid())  # ipykernel's own poller watches the zygote
    os.chdir(cwd)
    ends = [os.pidfd_open(watch), os.pidfd_open(os.getppid())]

    def watch() -> None:                              # the worker or the zygote gone: so are we
        select.select(ends, [], [])
        os._exit(1)

    threading.Thread(target=watch, name="perfsim-kernel-watchdog", daemon=True).start()
    import importlib.util

    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *argv]
    os.write(told, b"1")
    os.close(told)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)
