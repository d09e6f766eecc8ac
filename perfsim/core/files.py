"""Writing files safely: atomic single files and all-or-nothing sets of outputs.

Every file perfsim writes goes through a temporary file in the target folder and a rename,
so a reader never sees half a file. A command that writes several files stages them in
an :class:`OutputSet` and publishes them together at the end: if anything fails (a bad
input found late, a full disk, Ctrl-C, SIGTERM), nothing is published and the staging
folder is removed; publishing itself holds those signals and undoes a failed rename, so
the folder holds the complete previous set or the complete new one. A staging folder
left by a process that no longer lives (SIGKILL, a power cut) is dealt with by the next
run: removed if the process died before publishing, its publishing finished if it died
while publishing. Errors name the file the user asked for, never a temporary name.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from .errors import PerfsimError, PerfsimWarning

#: CSV files open correctly when double-clicked in Excel (also on Chinese Windows)
CSV_ENCODING = "utf-8-sig"


def _umask() -> int:
    """The process umask, read without changing it for good (not at import time)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_error(path: Path, exc: OSError) -> PerfsimError:
    reason = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return PerfsimError(f"cannot write this file ({reason}); nothing was written", where=path)


def check_file_target(path: str | Path) -> Path:
    """A path that may receive a regular file: absent, or an existing regular file.

    A directory, FIFO, socket or device is refused (it would be replaced by a file or
    block forever).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise PerfsimError(f"cannot use this path for output ({exc.strerror})", where=path) from None
    if stat.S_ISDIR(mode):
        raise PerfsimError("is a directory; give a file name for this output", where=path)
    if not stat.S_ISREG(mode):
        raise PerfsimError("is not a regular file (a FIFO, socket or device); refusing to write to it",
                           where=path)
    return path


def check_dir_target(path: str | Path) -> Path:
    """A path that may receive a folder of outputs: absent, or an existing directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PerfsimError("exists and is not a folder; give a folder for these outputs", where=path)
    if path.is_symlink() and not path.exists():
        raise PerfsimError("is a broken symbolic link", where=path)
    return path


def check_writable(path: str | Path, folder: bool) -> Path:
    """Before any work: ``path`` can receive a folder of outputs (``folder``) or a file,
    and the nearest existing folder on its way can be written (a read-only place is
    refused now, not after minutes of work)."""
    path = check_dir_target(path) if folder else check_file_target(path)
    probe = path if folder and path.is_dir() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise PerfsimError(f"{probe} is not a folder; outputs cannot be written under it", where=path)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PerfsimError(f"cannot write in {probe} (permission denied); nothing was done", where=path)
    return path


def _write_via(path: Path, writer: Callable[[str], None]) -> Path:
    """Write ``path`` by calling ``writer(tmp_name)`` and renaming the result into place."""
    path = check_file_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write through a temporary file in the same folder and a rename."""
    def writer(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return _write_via(Path(path), writer)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))


def write_json(path: str | Path, payload: Any) -> Path:
    return atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def csv_text(frame) -> str:
    """A table as CSV text (no index, LF line ends)."""
    return frame.to_csv(index=False, lineterminator="\n")


def write_csv(frame, path: str | Path) -> Path:
    """A table as a CSV file with a UTF-8 byte-order mark, so Excel opens it correctly."""
    return atomic_write_text(path, csv_text(frame), encoding=CSV_ENCODING)


def save_parquet(frame, path: str | Path, index: bool | None = None) -> Path:
    """Write ``frame`` to a Parquet file through a temporary file and a rename."""
    return _write_via(Path(path), lambda tmp: frame.to_parquet(tmp, index=index))


def write_with(path: str | Path, writer: Callable[[str], None]) -> Path:
    """Write ``path`` atomically with a writer that takes a file name (figures, workbooks)."""
    return _write_via(Path(path), writer)


class OutputSet:
    """Files a command writes, published together or not at all.

    ::

        with OutputSet(out_dir) as outputs:
            outputs.csv(table, "rank_stats.csv")
            outputs.json(facts, "run.json")
        # here every file is in place; on an exception none is

    Files are staged in a hidden folder inside ``out_dir`` and renamed into place when the
    block ends without an exception. ``path(name)`` gives a staging path for writers of
    their own (Parquet, figures).
    """

    def __init__(self, out_dir: str | Path, record: bool = True) -> None:
        self.out_dir = check_dir_target(out_dir)
        self.names: list[str] = []
        self._stage: Path | None = None
        #: whether this set counts as the command's results (not a cache the command fills)
        self.record = record

    def __enter__(self) -> "OutputSet":
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_staging(self.out_dir)
            self._stage = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=self.out_dir))
        except OSError as exc:
            raise _write_error(self.out_dir, exc) from None
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (relative to the output folder) while staging."""
        if self._stage is None:
            raise RuntimeError("OutputSet used outside its with-block")
        target = check_file_target(self.out_dir / name)
        if name not in self.names:
            self.names.append(name)
        staged = self._stage / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        del target
        return staged

    def csv(self, frame, name: str) -> Path:
        return write_csv(frame, self.path(name))

    def text(self, text: str, name: str) -> Path:
        return atomic_write_text(self.path(name), text)

    def json(self, payload: Any, name: str) -> Path:
        return write_json(self.path(name), payload)

    def parquet(self, frame, name: str) -> Path:
        return save_parquet(frame, self.path(name))

    def publish(self) -> list[Path]:
        """Put every staged file in place, all or none (done by the with-block on success).

        The previous files of the same names are first moved aside into the staging folder,
        then the new ones renamed into place; if a rename fails, what was done is undone,
        so the folder holds either the complete previous set or the complete new one. The
        signals that end a command (Ctrl-C, SIGTERM, SIGHUP) are held while this runs and
        delivered after it: they interrupt before the set is published or after, never
        half way. :data:`PUBLISHED` records what was published (for the CLI's last line)."""
        assert self._stage is not None
        aside = self._stage.with_name(self._stage.name + "-previous")
        moved: list[tuple[Path, Path]] = []          # (from, to), undone in reverse
        name = ""
        with held_signals():
            try:
                # the set is complete: a process killed outright from here on (SIGKILL, a
                # power cut) leaves a set the next run finishes publishing (roll forward)
                atomic_write_text(self._stage / MARKER, json.dumps(self.names))
                for name in self.names:
                    final = self.out_dir / name
                    check_file_target(final)
                    if final.exists():
                        keep = aside / name
                        keep.parent.mkdir(parents=True, exist_ok=True)
                        _rename(final, keep)
                        moved.append((final, keep))
                for name in self.names:
                    staged, final = self._stage / name, self.out_dir / name
                    final.parent.mkdir(parents=True, exist_ok=True)
                    _rename(staged, final)
                    moved.append((staged, final))
            except (OSError, PerfsimError) as exc:
                for source, target in reversed(moved):
                    try:
                        os.replace(target, source)
                    except OSError:
                        pass
                shutil.rmtree(aside, ignore_errors=True)
                if isinstance(exc, PerfsimError):
                    raise
                raise _write_error(self.out_dir / name, exc) from None
            shutil.rmtree(aside, ignore_errors=True)
            if self.record:
                PUBLISHED.append(str(self.out_dir))
        return [self.out_dir / n for n in self.names]

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self.publish()
        finally:
            if self._stage is not None:
                shutil.rmtree(self._stage, ignore_errors=True)
                self._stage = None


#: written into a staging folder, listing its files, when publishing of the set begins
MARKER = ".publishing"
#: output folders published by this process (the CLI says so if a signal arrives after)
PUBLISHED: list[str] = []
#: the signals that end a command; held while a set of outputs is published
ENDING_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _rename(source: Path, target: Path) -> None:
    """One step of publishing (a hook for the tests that fail it at every step)."""
    os.replace(source, target)


class held_signals:
    """Hold Ctrl-C, SIGTERM and SIGHUP while the block runs: each is recorded by a handler
    of its own and, when the block ends, handed to the handler that was there before (which
    raises KeyboardInterrupt, or ends the process by the signal's default action). Python
    runs signal handlers in the main thread whichever thread the kernel chose, so this holds
    where a signal mask would not (a mask is per thread, and a library's thread would take
    the signal); elsewhere than the main thread nothing is held."""

    def __enter__(self) -> "held_signals":
        self.saved: dict[int, object] = {}
        self.pending: list[tuple[int, object]] = []
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in ENDING_SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            previous = signal.getsignal(number)
            if previous in (signal.SIG_IGN, None):       # ignored (nohup) or not set from Python: leave it
                continue
            self.saved[number] = previous
            signal.signal(number, lambda signum, frame: self.pending.append((signum, frame)))
        return self

    def __exit__(self, *exc) -> None:
        for number, previous in self.saved.items():
            signal.signal(number, previous)
        if not self.pending:
            return
        number, frame = self.pending[0]
        previous = self.saved[number]
        if callable(previous):
            previous(number, frame)                       # KeyboardInterrupt, Terminated, ...
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), number)                   # the default action, now that the set is whole


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging folders that processes no longer alive left in ``folder`` (killed
    by SIGKILL or a power cut while writing); returns them.

    A process killed while it published (its staging folder holds :data:`MARKER`) had a
    complete set: its publishing is finished here (the files still staged are renamed into
    place), so the folder holds the complete new set, and a warning says so. A process
    killed before publishing leaves an incomplete set, which is removed unread."""
    removed = []
    try:
        entries = sorted(folder.glob(".staging-*"))
    except OSError:
        return removed
    for entry in entries:
        parts = entry.name.split("-")
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _alive(pid):
            continue
        finished = _roll_forward(folder, entry)
        if finished:
            warnings.warn(f"{folder}: process {pid} was killed while it published its outputs; "
                          f"its publishing was finished now ({', '.join(finished)})",
                          PerfsimWarning, stacklevel=3)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _roll_forward(folder: Path, stage: Path) -> list[str]:
    """Rename into ``folder`` the files a killed process had staged for publishing (those it
    had not renamed yet); returns the names of the set, or [] if it had not begun."""
    try:
        names = json.loads((stage / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return []
    for name in names:
        staged, final = stage / name, folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not staged.exists():
            continue
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        except OSError:
            continue
    return names


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

