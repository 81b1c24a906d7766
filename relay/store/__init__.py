"""Durable storage behind a small interface (SQLite now, PostgreSQL later)."""
