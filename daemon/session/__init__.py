"""Relay side."""
