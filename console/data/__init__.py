"""Bundled data: the deterministic synthetic datasets behind `mlconsole demo`."""
