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


class PerfsimWarning(UserWarning):
    """Something the user should know about a result that is not an error: a fallback, a
    skipped analysis, a unit without data, a clipped number. The command line prints each
    as ``perfsim: warning: ...`` and records it beside the results."""
