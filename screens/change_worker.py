"""Run one audited change off the UI thread and say how it went, the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable

from console.errors import ConsoleError


def run_change(screen, change: Callable[[], str], group: str, then: Callable[[], None] | None = None) -> None:
    """change() in a worker; its summary (or its error) becomes a toast; the screen reloads after."""
    app = screen.app

    def work() -> None:
        try:
            summary = change()
        except ConsoleError as exc:
            app.call_from_thread(screen.notify, str(exc), severity="error", timeout=10)
        except Exception as exc:  # never a traceback
            app.call_from_thread(screen.notify, f"unexpected error: {type(exc).__name__}: {exc}",
                                 severity="error", timeout=10)
        else:
            app.call_from_thread(screen.notify, f"{summary} (audited)", timeout=6)
            app.call_from_thread(screen.refresh_data)
            if then is not None:
                app.call_from_thread(then)

    screen.run_worker(work, thread=True, group=group, exit_on_error=False)
