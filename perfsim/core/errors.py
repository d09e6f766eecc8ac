"""One error type for every bad input, so the CLI can print one line and exit 2."""

from __future__ import annotations

from pathlib import Path


class PerfsimError(Exception):
    """A problem with a user's input: a data file, a scheme or a scenario.

    The message always starts with where the problem is (file, sheet, row, key) so a
    reader can go straight to it. The CLI prints it on one line and exits with code 2.
    """

    def __init__(self, message: str, *, where: str | Path | None = None) -> None:
        self.where = str(where) if where is not None else None
        self.detail = message
        super().__init__(f"{where}: {message}" if where is not None else message)


class PerfsimErrors(PerfsimError):
    """Several problems of one input found in one pass (an office workbook with a bad value
    in five places is fixed in one round, not five). ``problems`` holds each one's message,
    each starting with where it is; the CLI prints one ``perfsim: error:`` line for each."""

    #: at most this many problems are listed; the rest are counted
    SHOWN = 50

    def __init__(self, problems: list[str], *, what: str = "input") -> None:
        self.problems = list(problems)
        shown = self.problems[: self.SHOWN]
        more = len(self.problems) - len(shown)
        head = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''} in the {what}"
        lines = [head + (f" (the first {len(shown)} listed)" if more else "") + ":", *shown]
        if more:
            lines.append(f"... and {more} more")
        self.lines = lines
        super().__init__("\n".join(lines))


def raise_problems(problems: list[str], what: str = "input") -> None:
    """Raise the problems found (one: a plain :class:`PerfsimError`; several:
    :class:`PerfsimErrors`); nothing when the list is empty."""
    if len(problems) == 1:
        raise PerfsimError(problems[0])
    if problems:
        raise PerfsimErrors(problems, what=what)


class PerfsimWarning(UserWarning):
    """Something the user should know about a result that is not an error: a fallback, a
    skipped analysis, a unit without data, a clipped number. The command line prints each
    as ``perfsim: warning: ...`` and records it beside the results."""
