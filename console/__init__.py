"""mlconsole: a keyboard-driven terminal console for operating ML services."""

__version__ = "0.1.0"
