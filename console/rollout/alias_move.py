"""Moving a registry alias for a rollout: the one step both rollout drivers (the local supervisor's
and the Kubernetes controller) take the same way, through the registry port."""

from __future__ import annotations

from typing import Any

from console.errors import NotFound


def point_alias(registry: Any, model: str, alias: str, version: str | None) -> tuple[str | None, bool]:
    """Point model@alias at version (None or "": remove the alias).

    Returns (the version it pointed at before, whether anything changed); a model without the alias
    (or not there at all) had None before. Idempotent, so a controller retrying a tick is harmless.
    """
    try:
        before = registry.get_model(model).aliases.get(alias)
    except NotFound:
        before = None
    before = None if before is None else str(before)
    wanted = None if version is None or str(version) == "" else str(version)
    if wanted is None:
        if before is not None:
            registry.delete_alias(model, alias)
    elif wanted != before:
        registry.set_alias(model, alias, wanted)
    return before, wanted != before
