"""Adapters of the core's ports: SQLite store (sqlite_store), in-process bus (local_bus)."""
