"""Textual screens and widgets: presentation and key bindings only.

Nothing here imports httpx, kubernetes, mlflow or duckdb: data comes through the
backends the app holds, in worker threads.
"""
