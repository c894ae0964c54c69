"""Every change to the registry goes through here: refused under --readonly, audited."""

from __future__ import annotations

from console.config import Settings
from console.errors import ReadOnly
from console.governance.audit import AuditLog
from console.ports import RegistryBackend


class RegistryChanges:
    """Alias, tag and description changes with the readonly guard and an audit entry each."""

    def __init__(self, settings: Settings, registry: RegistryBackend, audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.audit = audit or AuditLog(settings.home)

    def _guard(self, action: str) -> None:
        if self.settings.readonly:
            raise ReadOnly(action)

    def _record(self, action: str, target: str, before: str, after: str, reason: str) -> None:
        where = "" if self.settings.registry_is_embedded else f"registry {self.registry.endpoint}"
        self.audit.append(action, target, before=before, after=after,
                          reason="; ".join(x for x in (reason, where) if x))

    def set_alias(self, name: str, alias: str, version: str, reason: str = "") -> str:
        """Point @alias at version; returns a one-line summary."""
        alias = alias.lstrip("@")
        self._guard(f"set alias @{alias} on {name}")
        before = self.registry.get_model(name).aliases.get(alias)
        self.registry.set_alias(name, alias, version)
        self._record("registry.alias.set", f"{name}@{alias}", f"v{before}" if before else "",
                     f"v{version}", reason)
        moved = f" (was v{before})" if before and before != version else ""
        return f"{name}@{alias} → v{version}{moved}"

    def delete_alias(self, name: str, alias: str, reason: str = "") -> str:
        alias = alias.lstrip("@")
        self._guard(f"delete alias @{alias} on {name}")
        before = self.registry.get_model(name).aliases.get(alias)
        self.registry.delete_alias(name, alias)
        self._record("registry.alias.delete", f"{name}@{alias}", f"v{before}" if before else "", "", reason)
        return f"{name}@{alias} deleted" + (f" (was v{before})" if before else "")

    def set_tag(self, name: str, key: str, value: str, version: str | None = None, reason: str = "") -> str:
        target = f"{name}/{version}" if version else name
        self._guard(f"set tag {key} on {target}")
        tags = (self.registry.get_version(name, version).tags if version
                else self.registry.get_model(name).tags)
        self.registry.set_tag(name, key, value, version)
        before = tags.get(key)
        self._record("registry.tag.set", f"{target} tag {key}", "" if before is None else before, value, reason)
        return f"{target}: {key}={value}"

    def delete_tag(self, name: str, key: str, version: str | None = None, reason: str = "") -> str:
        target = f"{name}/{version}" if version else name
        self._guard(f"delete tag {key} on {target}")
        tags = (self.registry.get_version(name, version).tags if version
                else self.registry.get_model(name).tags)
        self.registry.delete_tag(name, key, version)
        self._record("registry.tag.delete", f"{target} tag {key}", tags.get(key, ""), "", reason)
        return f"{target}: tag {key} deleted"

    def set_description(self, name: str, description: str, version: str | None = None,
                        reason: str = "") -> str:
        target = f"{name}/{version}" if version else name
        self._guard(f"edit description of {target}")
        before = (self.registry.get_version(name, version).description if version
                  else self.registry.get_model(name).description)
        self.registry.set_description(name, description, version)
        self._record("registry.description.set", target, _short(before), _short(description), reason)
        return f"{target}: description updated"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
