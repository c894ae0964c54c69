"""What both serving processes do around their handlers: log lines, bind, port file, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

log = logging.getLogger("mlconsole.serving")
MAX_BODY = 64 * 1024 * 1024  # aiohttp refuses bodies over 1 MB by default; tensors are bigger


def setup_logging(name: str) -> None:
    """One line per event on stderr (the supervisor sends stderr to the replica's log file)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # aiohttp logs a malformed HTTP request with a traceback: keep it to one line.
    logging.getLogger("aiohttp.server").addFilter(_one_line)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _one_line(record: logging.LogRecord) -> bool:
    """Fold a record's exception into its message (no traceback in the log)."""
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        detail = " ".join(str(exc).split())[:300]
        record.msg = f"{record.getMessage()}: {type(exc).__name__}: {detail}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    return True


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one, chosen by the kernel)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def write_port_file(path: Path, port: int) -> None:
    """Write the bound port so the supervisor reads either nothing or the whole number."""
    from backends.local.state import write_atomic

    write_atomic(Path(path), f"{port}\n")


async def serve(app: web.Application, host: str, port: int, port_file: Path | None, *,
                on_started: Callable[[int], None] | None = None,
                on_hangup: Callable[[], None] | None = None,
                on_stopped: Callable[[], Awaitable[None]] | None = None) -> int:
    """Serve app until SIGTERM or SIGINT, then close the sockets cleanly; returns the exit code.

    on_stopped runs once no request is being answered any more (to flush what they left).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if on_hangup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        sock = bind(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 1
    bound = sock.getsockname()[1]
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    if port_file is not None:
        try:
            write_port_file(port_file, bound)
        except OSError as exc:
            log.error("cannot write port file %s: %s", port_file, exc.strerror or exc)
            await runner.cleanup()
            return 1
    if on_started is not None:
        on_started(bound)
    await stop.wait()
    log.info("stopping (signal received)")
    await runner.cleanup()  # stops listening, lets requests in flight finish (up to 5 s)
    with contextlib.suppress(OSError):
        sock.close()
    if on_stopped is not None:
        await on_stopped()
    return 0


def run(main: Callable[[], Awaitable[int]]) -> int:
    """asyncio.run, returning main's exit code (130 when interrupted before handlers are set)."""
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
