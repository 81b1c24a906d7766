"""Ensemble relay: the self-hosted session server."""

__version__ = "0.1.0"
