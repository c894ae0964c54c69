"""Typed errors raised at the ports. Each carries a message a person can act on."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error a backend raises through a port.

    `message` says what went wrong; `hint` says what to do about it. Screens show both,
    never a traceback.
    """

    def __init__(self, message: str, *, hint: str = "", target: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.target = target

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class BackendUnavailable(ConsoleError):
    """The backend cannot be reached (connection refused, timeout, DNS, not started)."""


class Forbidden(ConsoleError):
    """The backend refused: missing credentials (401) or permission (403), or --readonly."""


class NotFound(ConsoleError):
    """The named object does not exist in the backend."""


class InvalidSpec(ConsoleError):
    """Input (a manifest, a payload, a setting) is malformed; `location` points at the culprit."""

    def __init__(self, message: str, *, hint: str = "", target: str = "", location: str = "") -> None:
        super().__init__(message, hint=hint, target=target)
        self.location = location


class Conflict(ConsoleError):
    """The object changed underneath us or already exists (HTTP 409)."""


class ReadOnly(Forbidden):
    """A changing action was refused because the console runs with --readonly."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"{action} refused: mlconsole runs with --readonly",
            hint="restart without --readonly (and without MLCONSOLE_READONLY) to make changes",
            target=action,
        )
