"""Run a program on a pseudo-terminal of a given size, as a person's terminal would."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading
import time


def run_on_pty(argv: list[str], env: dict[str, str], size=(120, 40), timeout: float = 30.0) -> float:
    """Start argv on a pty; return its wall time. The pty is drained so the app never blocks."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    started = time.time()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            start_new_session=True)
    os.close(slave)

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return started
