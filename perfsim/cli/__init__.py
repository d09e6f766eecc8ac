"""Command line: ``perfsim COMMAND``, one module per command (:data:`COMMANDS`), each with
``NAME``, ``HELP``, ``EXAMPLE``, ``OUT``, ``configure(parser)`` and ``run(args)``; an
analysis command calls its analysis of the protocol (:mod:`perfsim.analyses.result`) and
publishes the Result with :func:`perfsim.cli.common.publish_result`.

Every bad input ends in one line ``perfsim: error: <where>: <what>`` on stderr and exit
code 2, with no traceback; Ctrl-C ends in ``perfsim: interrupted`` and exit code 130.
A command writes all its output files or none. Warnings (a unit without data, a
fallback) are printed as ``perfsim: warning: ...`` and recorded in ``run.json``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from ..core import VERSION as __version__
from ..core.errors import PerfsimError, PerfsimErrors, PerfsimWarning
from .common import SEEN

#: the order --help lists the commands in (one module each: ``configure(parser)``, ``run(args)``);
#: a command module not listed here is found all the same and listed after these
COMMANDS = ("synth", "validate", "score", "importing", "audit", "weights", "influence", "reduce", "methods",
            "raters", "efficiency", "consequences", "diagnose", "moments", "compare", "batch", "uncertainty",
            "calibrate", "reference", "explore", "memo", "ensemble", "track")
#: a command whose module is named otherwise (``import`` is a Python keyword)
MODULES = {"import": "importing"}

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, PerfsimWarning):
        text = " ".join(str(message).split())
        SEEN.append(text)
        print(f"perfsim: warning: {text}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


# --------------------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """Bad options end in one line, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"perfsim: error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Adds "(default: ...)" to an option's help unless the help names its default already or
    the default is None (nothing to say)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.nargs == 0:
            return text
        return super()._get_help_string(action)


def _sub(sub, name: str, help_: str, example: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=help_, formatter_class=_Help,
                       epilog=f"example:\n  {example}")
    p.set_defaults(func=func)
    return p


def commands() -> list:
    """The command modules (every module of this package with ``NAME``, ``configure`` and
    ``run``), in the order ``perfsim --help`` lists them: :data:`COMMANDS` first."""
    import pkgutil
    from importlib import import_module

    found = [info.name for info in pkgutil.iter_modules(__path__)
             if info.name not in ("common", "options", "__main__")]
    names = [n for n in COMMANDS if n in found] + sorted(n for n in found if n not in COMMANDS)
    modules = [import_module(f".{name}", __name__) for name in names]
    return [m for m in modules if all(hasattr(m, a) for a in ("NAME", "configure", "run"))]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfsim", formatter_class=_Help,
                     description="Simulate and compare municipal government performance-management schemes "
                                 "(政府绩效管理).",
                     epilog="examples:\n"
                            "  perfsim score params/baseline.yaml\n"
                            "  perfsim compare params/baseline.yaml params/scenarios/leader5_proportional.yaml\n"
                            "  perfsim batch --name default\n"
                            "run 'perfsim COMMAND --help' for a command's options")
    parser.add_argument("--version", action="version", version=f"perfsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in commands():
        module.configure(_sub(sub, module.NAME, module.HELP, module.EXAMPLE, module.run))
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the command ends as on Ctrl-C (staged outputs are dropped, workers
    stopped), with the signal's own exit code."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame) -> None:
    raise Terminated(signum)


class _ending_signals:
    """SIGTERM and SIGHUP end the command like Ctrl-C while it runs (main thread only)."""

    def __enter__(self) -> None:
        import signal
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                if hasattr(signal, name):
                    number = getattr(signal, name)
                    self.saved[number] = signal.signal(number, _terminate)

    def __exit__(self, *exc) -> None:
        import signal

        for number, handler in self.saved.items():
            signal.signal(number, handler)


def _interrupted(exc: KeyboardInterrupt) -> int:
    """The last line of a command ended by a signal, and its exit code (128 + signal)."""
    from ..core.files import PUBLISHED

    name, code = (exc.args[0], 128 + exc.signum) if isinstance(exc, Terminated) else ("Ctrl-C", EXIT_INTERRUPTED)
    if PUBLISHED:
        shown = ", ".join(dict.fromkeys(PUBLISHED))
        print(f"perfsim: interrupted ({name}); the results already written to {shown} are complete, "
              "nothing after them was written", file=sys.stderr)
    else:
        print(f"perfsim: interrupted ({name}); no results were written", file=sys.stderr)
    return code


def _check_out(args: argparse.Namespace) -> None:
    """Every output place checked before the work starts (a file where a folder belongs, a
    read-only folder): the error comes first, not after the work. Each command module says
    what its ``--out`` names (``OUT``)."""
    from importlib import import_module

    from ..core.files import check_writable

    out = getattr(args, "out", None)
    if out is None or not getattr(args, "command", None):
        return
    kind = getattr(import_module(f".{MODULES.get(args.command, args.command)}", __name__), "OUT", None)
    if kind == "synth":
        check_writable(out, folder=getattr(args, "format", "csv") != "xlsx")
    elif kind in ("file", "folder"):
        check_writable(out, folder=kind == "folder")


def main(argv: Sequence[str] | None = None) -> int:
    from ..core.files import PUBLISHED

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    SEEN.clear()
    PUBLISHED.clear()
    try:
        with warnings.catch_warnings(), _ending_signals():
            warnings.simplefilter("always", PerfsimWarning)
            warnings.showwarning = _show_warning
            _check_out(args)
            return args.func(args)
    except PerfsimErrors as exc:          # several problems: one line each
        for line in exc.lines:
            print("perfsim: error: " + " ".join(line.split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PerfsimError as exc:
        print("perfsim: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:          # output piped into `head` and the like
        return 0
    except OSError as exc:
        print(f"perfsim: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecursionError:
        print("perfsim: error: input nested too deeply", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("perfsim: error: out of memory; use fewer draws or a smaller --chunk", file=sys.stderr)
        return EXIT_BAD_INPUT


def run() -> None:
    """The ``perfsim`` command: :func:`main`, then exit without tearing the interpreter down.

    By then every output is published and every pool shut down; freeing the pandas,
    matplotlib and nbconvert module graph object by object would add about 0.3 s to each
    command. Exit handlers still run and the streams are flushed first."""
    import atexit
    import os

    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:         # another Python: the ordinary way out
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):      # a closed pipe: nothing more can be said
            pass
    os._exit(code)
