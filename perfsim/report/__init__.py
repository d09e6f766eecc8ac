"""Presenting results: figures, tables saved for readers, HTML pages and provenance."""
