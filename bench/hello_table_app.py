"""A second peer for startup timing: a bare Textual app with one DataTable and a Footer,
the two stock widgets every mlconsole view is built from."""

import os
import time

from textual.app import App
from textual.widgets import DataTable, Footer


class HelloTable(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self):
        table = DataTable()
        table.add_columns("name", "phase", "traffic")
        table.add_row("demo", "Available", "main 100")
        yield table
        yield Footer()

    def on_ready(self) -> None:
        with open(os.environ["MLCONSOLE_READY_FILE"], "w") as fh:
            fh.write(repr(time.time()))
        self.exit()


if __name__ == "__main__":
    HelloTable().run()
