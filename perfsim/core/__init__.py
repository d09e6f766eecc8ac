"""The core: data contract, schemes and scenarios, scoring rules and the engine.

Knows nothing of the floors above it (sources, uncertainty, analyses, report, runners, cli).
"""
