"""The peer for startup timing: a bare Textual app that paints one line."""

import os
import time

from textual.app import App
from textual.widgets import Static


class Hello(App):
    def compose(self):
        yield Static("hello")

    def on_ready(self) -> None:
        with open(os.environ["MLCONSOLE_READY_FILE"], "w") as fh:
            fh.write(repr(time.time()))
        self.exit()


if __name__ == "__main__":
    Hello().run()
