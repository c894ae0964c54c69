"""Backends: one folder per technology, each fulfilling a port of console/ports.py.

All network and process I/O lives here. Nothing here imports textual or rich.
"""
