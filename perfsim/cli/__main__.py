"""``python -m perfsim.cli``: the same as the ``perfsim`` command."""

from . import run

run()
