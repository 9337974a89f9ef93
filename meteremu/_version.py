"""The package version: the single source, read by pyproject and the C build."""

__version__ = "0.1.0"
