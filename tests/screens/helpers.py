"""Driving the app in tests: build it on a home, wait until its workers settle."""

from __future__ import annotations

from pathlib import Path

from console.app import MLConsoleApp
from console.config import load_settings


def make_app(home: Path, **flags) -> MLConsoleApp:
    return MLConsoleApp(load_settings({"home": str(home), **flags}, env={}))


async def settle(pilot, rounds: int = 3) -> None:
    """Let health checks and data loads finish and their results paint.

    Waits until every backend has reported its health once and no worker runs, so
    snapshots never catch a half-loaded screen.
    """
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        await app.workers.wait_for_complete()
        if len(app.health) == 3 and not any(w.is_running for w in app.workers):
            break
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
    # A blinking cursor is drawn or not depending on when the frame lands: stop it blinking.
    for screen in app.screen_stack:
        for widget in screen.query("TextArea, Input"):
            widget.cursor_blink = False
    # Tab underlines slide into place: a loaded machine caught one mid-slide.
    await pilot.wait_for_scheduled_animations()
    # A screen under a modal is not repainted later: give it one real frame now.
    await pilot.pause(0.1)
