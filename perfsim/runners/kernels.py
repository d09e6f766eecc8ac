"""The worker side of a batch: warm Jupyter kernels and running one notebook job.

Kernel start-up and imports dominate small notebooks, so each worker keeps one warm
kernel (per thread) and reuses it between jobs, resetting the user namespace
(``%reset -f``), closing figures, restoring matplotlib settings and changing into the
job's folder before every job. In a batch on Linux the kernels are forked by the batch's
kernel zygote (:mod:`perfsim.runners.zygote`), which has imported what they need once;
elsewhere, or when it cannot serve, a kernel starts the ordinary way (and the job says
why). One client talks to the kernel for its whole life. A kernel that dies as it starts
is started again (:data:`START_ATTEMPTS`); one that dies later is detected and replaced; a
job that runs past its time limit has its kernel killed and is recorded as failed. A
kernel ends when its worker ends (it watches its worker, and a forked one its zygote too),
so nothing outlives a killed batch.

Every job records where its time went (``timings`` in ``job.json``): starting a kernel,
resetting it, papermill's own work (reading, injecting parameters, writing), the cells'
execution as papermill measured it, the HTML export and the writing of the folder.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..core.files import write_json
from ..core.paths import PROJECT_DIR
from .notebook import skipped_analyses
from .zygote import WARM_IMPORTS      # what every job's notebooks import (beside the zygote, which uses it)

KERNEL = "python3"
NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
WARM_UP = (WARM_IMPORTS +
           "import os as _os, matplotlib as _m, gc as _gc, perfsim.runners.executors as _x, perfsim.runners.kernels as _k\n"
           "_k.KERNEL_RC = dict(_m.rcParams)\n"
           "_x.watch_parent(_os.getppid())\n"
           "_gc.freeze()\n"        # what the imports built is never garbage: later collections skip it
           "del _k, _m, _x, _os, _gc")
#: what a worker imports to run jobs on a kernel (a batch imports them before it forks its workers)
WORKER_MODULES = ("jupyter_client.manager", "papermill", "papermill.engines", "papermill.clientwrap")
RESET = "import perfsim.runners.kernels as _k\n_k.reset_namespace({cwd!r})"


def reset_namespace(cwd: str) -> None:
    """Between jobs, in the kernel: clear the user namespace as ``%reset -f`` does (without
    its two full garbage collections, which cost more than the rest of a small job's
    overhead), close figures, restore matplotlib settings and change into the job's folder."""
    import gc

    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        get_ipython().reset(new_session=False)
    finally:
        gc.collect = collect
    plt.close("all")
    matplotlib.rcParams.update(KERNEL_RC)
    os.chdir(cwd)


KERNEL_RC: dict = {}


@dataclass(frozen=True)
class Job:
    """One scenario through one notebook."""

    scenario: str           # the scenario file, as passed to the notebook
    scenario_name: str
    notebook: str
    key: str
    folder: str
    parameters: dict = field(default_factory=dict)
    timeout: float = 1800.0

    @property
    def label(self) -> str:
        return f"{self.scenario_name}/{Path(self.notebook).stem}"


_LOCAL = threading.local()


def _sync(method):
    from jupyter_core.utils import run_sync

    return run_sync(method)


def _alive(km) -> bool:
    try:
        return bool(_sync(km.is_alive)())
    except Exception:
        return False


#: the start of a kernel warmed before any job (a worker's ``prepare``), told to its first job
_PREWARMED: dict[str, float] = {}


#: where this worker asks for kernels: the batch's kernel zygote (:func:`prewarm` sets it)
_ZYGOTE: dict[str, str] = {}
#: why this worker's last kernel did not come from the zygote, told to the next job's record
_ALONE: list[str] = []


def prewarm(zygote: str | None = None) -> None:
    """Start and warm this worker's kernel before its first job (in a worker's initialiser,
    so that kernels start while the batch is still planning); ``zygote`` is the address of
    the batch's kernel zygote, which forks this worker's kernels from then on."""
    if zygote:
        _ZYGOTE["address"] = zygote
    timings: dict[str, float] = {}
    try:
        _kernel(timings)
        _PREWARMED.update(timings)
    except Exception:        # the first job will try again and record the error
        pass


@functools.lru_cache(maxsize=None)
def _zygote_provisioner():
    """jupyter's local provisioner, launching the kernel by asking the zygote for a fork
    (and the ordinary way, with the reason kept for the job's record, when it cannot)."""
    from jupyter_client.provisioning import LocalProvisioner

    from .zygote import ForkedProcess, ZygoteError, request_kernel

    class ZygoteProvisioner(LocalProvisioner):
        address = ""

        async def launch_kernel(self, cmd, **kwargs):
            env = kwargs.get("env") or dict(os.environ)
            cwd = kwargs.get("cwd") or os.getcwd()
            try:
                pid = request_kernel(self.address, cmd, env, str(cwd))
                self.process = ForkedProcess(pid)
            except (ZygoteError, OSError, ValueError) as exc:
                _ALONE[:] = [" ".join(str(exc).split())]
                return await super().launch_kernel(cmd, **kwargs)
            _ALONE.clear()
            self.pid = self.pgid = pid               # the kernel leads its own session
            self.cwd = cwd
            return self.connection_info

    return ZygoteProvisioner


#: how often a kernel that dies as it starts is started again (kernels started at the same
#: moment by two batches on one machine can lose one)
START_ATTEMPTS = 3


def _kernel(timings: dict):
    """This thread's warm kernel, started (and warmed up) on first use or after a death.

    An asynchronous kernel manager: nbclient then polls the kernel's liveness while a
    cell runs (with a blocking client a dead kernel would hang the job forever). One
    client serves the kernel's whole life: the set-up code, the reset between jobs and
    papermill's runs."""
    from jupyter_client.manager import AsyncKernelManager

    km = getattr(_LOCAL, "km", None)
    if km is not None and _alive(km):
        return km
    _forget_kernel()
    t0 = time.perf_counter()
    for attempt in range(1, START_ATTEMPTS + 1):
        km = AsyncKernelManager(kernel_name=KERNEL)
        if _ZYGOTE:
            km.kernel_id = str(uuid.uuid4())
            km.provisioner = _zygote_provisioner()(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
            km.provisioner.address = _ZYGOTE["address"]
        # the kernel's own stderr says only that it listens on TCP and, when its worker is
        # gone, that it shuts down (after the batch's last line); errors reach the job as messages
        _sync(km.start_kernel)(cwd=str(NOTEBOOK_DIR), stderr=subprocess.DEVNULL)
        _register_engine()          # (imports papermill while the kernel starts)
        kc = km.client()
        kc.allow_stdin = False
        kc.start_channels()
        try:
            _sync(_until_ready)(km, kc, 120.0)
            break
        except RuntimeError:
            kc.stop_channels()
            _shutdown_kernel(km)
            if attempt == START_ATTEMPTS:
                raise
            timings["kernel_start_retries"] = attempt      # told in the batch's summary
    _LOCAL.km, _LOCAL.kc = km, kc
    import atexit

    atexit.register(_shutdown_kernel, km)
    try:
        from multiprocessing import util

        util.Finalize(None, _shutdown_kernel, args=(km,), exitpriority=10)
    except Exception:  # pragma: no cover - not in a multiprocessing worker
        pass
    run_code(kc, WARM_UP)
    timings["kernel_start"] = round(time.perf_counter() - t0, 3)
    if _ZYGOTE:
        timings["kernel_forked"] = 0.0 if _ALONE else 1.0
    return km


async def _until_ready(km, kc, timeout: float) -> None:
    """Wait until the kernel answers a request on its shell channel and its output channel
    carries that request's status (then nothing the kernel says is lost). jupyter_client's
    own ``wait_for_ready`` also waits for 0.2 s of silence on the output channel, with both
    cores idle as a batch starts; here the reply and status are matched by request."""
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        request = kc.kernel_info()
        try:
            while (await kc.get_shell_msg(timeout=1))["parent_header"].get("msg_id") != request:
                pass
            while (await kc.get_iopub_msg(timeout=0.2))["parent_header"].get("msg_id") != request:
                pass
            return
        except Empty:
            pass
        if not await km.is_alive():
            raise RuntimeError("the kernel died as it started")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not answer within {timeout:g} s")


def _forget_kernel() -> None:
    """Drop this thread's kernel and client (the kernel is dead or being replaced)."""
    km, kc = getattr(_LOCAL, "km", None), getattr(_LOCAL, "kc", None)
    if kc is not None:
        try:
            kc.stop_channels()
        except Exception:
            pass
    if km is not None:
        _shutdown_kernel(km)
    _LOCAL.km = _LOCAL.kc = None


def _shutdown_kernel(km) -> None:
    """Stop a kernel at once and remove its connection file (a graceful shutdown request
    waits on the kernel; between jobs and at the end nothing in it is worth waiting for)."""
    try:
        process = getattr(km.provisioner, "process", None) if km.has_kernel else None
        if process is not None:
            process.kill()
            process.wait(timeout=10)
        km.cleanup_connection_file()
    except Exception:
        pass


def _kill_kernel(km) -> None:
    """Kill the kernel process now (from a timer thread: no event loop needed)."""
    try:
        process = getattr(km.provisioner, "process", None)
        if process is not None:
            process.kill()
    except Exception:
        pass


def run_code(kc, code: str, timeout: float = 120) -> None:
    """Run set-up code on the kernel through its client; what it prints is dropped."""
    reply = _sync(kc.execute_interactive)(code, timeout=timeout, output_hook=lambda msg: None)
    if reply["content"].get("status") != "ok":
        raise RuntimeError(f"kernel set-up failed: {reply['content'].get('evalue')}")


_ENGINE = "perfsim-warm-kernel"


def _register_engine() -> None:
    """A papermill engine that runs on a kernel client we keep open (papermill's own engine
    opens a client per notebook, which waits for the kernel's output channel to drain)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    if _ENGINE in papermill_engines._engines:          # noqa: SLF001 - registered once per process
        return

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kc = kwargs.pop("warm_kc")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final)
            client.kc = kc
            return client.execute()

    papermill_engines.register(_ENGINE, WarmKernelEngine)


def _execute(job: Job, output: Path, cwd: Path, warm: bool, timings: dict,
             expired: threading.Event) -> None:
    """Run the notebook; ``expired`` is set when the job's time limit killed its kernel."""
    import papermill as pm

    cwd = Path(cwd).resolve()      # the warm kernel's own working folder is not the batch's
    kwargs: dict[str, Any] = {}
    timer = None
    if warm:
        km = _kernel(timings)
        t0 = time.perf_counter()
        run_code(_LOCAL.kc, RESET.format(cwd=str(cwd)))
        timings["reset"] = round(time.perf_counter() - t0, 3)
        _register_engine()
        kwargs.update(km=km, warm_kc=_LOCAL.kc, engine_name=_ENGINE)

        def expire() -> None:
            expired.set()
            _kill_kernel(km)

        timer = threading.Timer(job.timeout, expire)
        timer.daemon = True
        timer.start()
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(job.notebook, str(output), parameters=job.parameters, kernel_name=KERNEL,
                            progress_bar=False, request_save_on_cell_execute=False, cwd=str(cwd),
                            execution_timeout=job.timeout, **kwargs)
    finally:
        if timer is not None:
            timer.cancel()
        timings["papermill"] = round(time.perf_counter() - t0, 3)


_EXPORTER: list = []
#: the report page is the full page with the code, prompts and their toolbars hidden
#: the code-free page: code cells' input hidden, the text cells (title, question, method,
#: conclusion) shown; tables scroll inside their box
REPORT_CSS = ("<style>.jp-CodeCell .jp-Cell-inputWrapper, .jp-InputPrompt, .jp-OutputPrompt,"
              " .jp-Collapser {display: none !important;}"
              " .jp-OutputArea-output {overflow-x: auto;}"
              " .jp-RenderedHTMLCommon table.perfsim-table td, .jp-RenderedHTMLCommon table.perfsim-table th"
              " {white-space: nowrap;}</style>")
#: the text cells are written Chinese first with the English in ``<div class="l-en">``; the
#: page's switch (the index's) shows one language
LANG_CSS = ("<style>.jp-MarkdownCell .l-en {display: none;} body.lang-en .jp-MarkdownCell .l-en {display: block;}"
            " body.lang-en .jp-MarkdownCell .jp-RenderedMarkdown > :not(.l-en) {display: none;}"
            " .langs {position: fixed; top: 0.5em; right: 1em; z-index: 10; background: #fff;"
            " border: 1px solid #ccd; border-radius: 4px;} .langs button {border: 0; background: #fff;"
            " padding: 0.3em 0.8em; cursor: pointer;} .langs button.on {background: #335; color: #fff;}</style>")
#: what a page must not load from the internet (an office intranet has none): the template's
#: require.js, MathJax and its mermaid loader (the notebooks use neither widgets, nor maths, nor diagrams)
_EXTERNAL = (re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.S),
             re.compile(r'<script type="text/x-mathjax-config">.*?</script>\s*', re.S),
             re.compile(r'<script type="module">(?:(?!</script>).)*?https?://(?:(?!</script>).)*</script>\s*', re.S),
             re.compile(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>\s*', re.S),
             re.compile(r'/\*(?:(?!\*/).)*?https?://(?:(?!\*/).)*?\*/', re.S))      # addresses in CSS comments


def offline_page(html: str, folder: Path | None = None) -> str:
    """A page that works offline and shows no machine paths: scripts and styles from the internet
    removed, the notebook's own folder and the project folder written relatively."""
    for pattern in _EXTERNAL:
        html = pattern.sub("", html)
    if folder is not None:
        html = html.replace(str(folder) + "/", "").replace(str(folder), ".")
    return html.replace(str(PROJECT_DIR) + "/", "")


def _same(text):
    return text


#: highlighted code cells by (source, language, magics language): a batch runs each notebook
#: for several scenarios, so most code cells it exports are ones it has highlighted before
_HIGHLIGHTED: dict[tuple, str] = {}
_HIGHLIGHTED_MAX = 4096


@functools.lru_cache(maxsize=None)
def _memo_highlight(base):
    """nbconvert's code highlighter, remembering what it highlighted (pygments is about
    half of an export's time)."""
    class MemoHighlight(base):
        def __call__(self, source, language=None, metadata=None):
            key = (source, language or self.pygments_lexer, (metadata or {}).get("magics_language"),
                   repr(sorted(self.extra_formatter_options.items())))
            html = _HIGHLIGHTED.get(key)
            if html is None:
                html = super().__call__(source, language, metadata)
                if len(_HIGHLIGHTED) >= _HIGHLIGHTED_MAX:
                    _HIGHLIGHTED.clear()
                _HIGHLIGHTED[key] = html
            return html

    return MemoHighlight


def html_exporter():
    """nbconvert's HTML exporter, made cheaper for the batch's own notebooks: the HTML their
    outputs print is not sanitised again (the batch has just run their code, so cleaning what
    it printed adds no safety) and the page's accessibility pass (alt text on images,
    focusable cells) is done by pattern instead of parsing the whole page, a code cell met
    before (the same notebook for another scenario) is not highlighted again, and the notebook
    is validated once after its preprocessors rather than after each of them. About 5x
    faster on a typical notebook; where nbconvert's internals differ, its own export runs."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class BatchHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            try:
                from nbconvert.filters.highlight import Highlight2HTML
                from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

                langinfo = nb.metadata.get("language_info", {})
                lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", _memo_highlight(Highlight2HTML)(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            except (AttributeError, ImportError, TypeError):       # another nbconvert: its own way
                return super().from_notebook_node(nb, resources, **kw)
            html = re.sub(r"<img (?![^>]*\balt=)", '<img alt="figure" ', html)
            html = re.sub(r'(<div class="[^"]*\b(?:jp-Cell-inputWrapper|jp-OutputArea-output)\b[^"]*")(?![^>]*tabindex)',
                          r'\1 tabindex="0"', html)
            return html, resources

    if not _EXPORTER:
        exporter = BatchHTMLExporter(optimistic_validation=True)
        exporter.register_filter("clean_html", _same)
        _EXPORTER.append(exporter)
    return _EXPORTER[0]


def export_html(notebook: Path, back: str | None = "../../index.html") -> tuple[Path, Path] | None:
    """The executed notebook as HTML: ``NAME.html`` with its code and ``NAME.report.html``
    without (the same page with the code hidden, so one conversion serves both). The
    exporter is built once per process (building one costs more than an export). ``back``
    is the relative address of the batch's index, linked from the top of both pages."""
    try:
        import nbformat

        body, _ = html_exporter().from_notebook_node(nbformat.read(notebook, as_version=4))
        body = offline_page(body, notebook.parent.resolve())
        full = notebook.with_suffix(".html")
        report = notebook.with_suffix(".report.html")
        from ..report.index_report import SWITCH

        from ..report.pages import EXPLORER_URL

        bar = SWITCH
        if back is not None:          # every page links back to the batch's index, and to the explorer
            scenario = quote(notebook.resolve().parent.parent.name)
            bar += (f'<p style="margin:0.5em 1em;font-family:sans-serif"><a href="{back}">&larr; 索引 index</a> · '
                    f'<a href="{full.name}">含代码 with code</a> · <a href="{report.name}">报告 report</a> · '
                    f'<a href="{EXPLORER_URL}?scenario={scenario}">在探索器中打开 open in the explorer '
                    f'(perfsim explore)</a></p>')
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + bar, body, count=1)
        body = body.replace("</head>", LANG_CSS + "\n</head>", 1)
        full.write_text(body, encoding="utf-8")
        report.write_text(body.replace("</head>", REPORT_CSS + "\n</head>", 1), encoding="utf-8")
        return full, report
    except Exception:  # an HTML rendering is a convenience; never fail a job for it
        return None


def cell_seconds(notebook: Path) -> float:
    """Sum of the cells' execution times that papermill recorded in the notebook."""
    import json

    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0
    return round(sum(float((c.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0)
                     for c in nb.get("cells", [])), 3)


def swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside, then removed."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _describe_failure(exc: BaseException, expired: bool, timeout: float) -> str:
    if expired:
        return f"TimeoutError: the job ran longer than its limit of {timeout:g} s and was stopped"
    name = type(exc).__name__
    if name == "DeadKernelError":
        return "DeadKernelError: the notebook's kernel died (it exited or crashed)"
    if name == "CellTimeoutError":
        return f"TimeoutError: a cell ran longer than the limit of {timeout:g} s and was stopped"
    ename = getattr(exc, "ename", name)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    return f"{ename}: {evalue}" + (f" (cell [{cell}])" if cell else "")


def execute_job(job: Job, warm: bool = True, html: bool = True) -> dict:
    """Run one job; always returns its record (status done or failed), never raises.

    The job's folder is built in a hidden sibling and renamed into place. The notebook
    runs with its working directory there and ``out_dir`` ``"."``, so the executed
    notebook records a folder that still holds its results after the rename.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    final = Path(job.folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    output = tmp / Path(job.notebook).name
    status, error = "done", None
    if _PREWARMED:
        timings.update(_PREWARMED)
        _PREWARMED.clear()
    expired = threading.Event()
    try:
        _execute(job, output, tmp, warm, timings, expired)
    except Exception as exc:  # a failing notebook is recorded, not raised
        status = "failed"
        error = _describe_failure(exc, expired.is_set(), job.timeout)
        km = getattr(_LOCAL, "km", None)
        if km is not None and (expired.is_set() or not _alive(km)
                               or type(exc).__name__ in ("DeadKernelError", "CellTimeoutError")):
            _forget_kernel()        # a fresh kernel (and client) for the next job
    t0 = time.perf_counter()
    if output.exists():
        timings["cells"] = cell_seconds(output)
        if html:
            export_html(output)
    timings["html"] = round(time.perf_counter() - t0, 3)
    record = {
        "scenario": job.scenario_name, "notebook": Path(job.notebook).stem, "key": job.key,
        "status": status, "cached": False, "error": error,
        "seconds": round(time.perf_counter() - started, 3), "worker_pid": os.getpid(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "timings": timings,
    }
    if timings.get("kernel_forked") == 0.0 and _ALONE:
        record["kernel_note"] = f"its kernel was started on its own, not forked by the kernel zygote: {_ALONE[0]}"
    skipped = skipped_analyses(tmp)
    if skipped:
        record["skipped_analyses"] = skipped
    t0 = time.perf_counter()
    write_json(tmp / "job.json", record)
    swap_into_place(tmp, final)
    timings["write"] = round(time.perf_counter() - t0, 3)
    return record
