"""The core: data contract, schemes and scenarios, scoring rules and the engine.

Knows nothing of the floors above it (sources, uncertainty, analyses, report, runners, cli).
"""

#: the package's version (``perfsim.__version__``; the same as pyproject.toml's, tested). Here,
#: in the lowest floor, so that modules of every floor read it without importing the root package
VERSION = "0.2.0"
